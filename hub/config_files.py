"""Reading YAML configuration files into pydantic models, with errors that name file, path and problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hub.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read_yaml(
    path: Path, model: type[M], *, locate: Callable[[Any, tuple[Any, ...]], str | None] | None = None
) -> M:
    """Parse and validate a YAML file; every error names the file, the path inside it and why.

    `locate(raw, loc)` may give a friendlier path for an error (e.g. an entry's name beside its index).
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "-", "no such file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "-", f"not valid YAML: {exc}") from None
    try:
        return model.model_validate(raw or {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            if locate is not None:
                loc = locate(raw, tuple(err["loc"])) or loc
            problems.append((loc, err["msg"].removeprefix("Value error, ")))
        (first, problem), *more = problems
        raise ConfigError(str(path), first, problem, more) from None
