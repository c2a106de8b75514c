"""The `hub` command: serve, demo, db upgrade, trust-group and key administration.

One module per command group; importing this package registers them all on `app`.
"""

from __future__ import annotations

import sys

from hub.cli import (  # noqa: F401  (importing a command module registers its commands)
    audit,
    config,
    db,
    imports,
    key,
    manage,
    outbound,
    policy,
    serve,
    sync,
    trust,
    webconsole,
)
from hub.cli.app import app
from hub.cli.serve import DEMO_CONFIG
from hub.db import make_engine, make_sessionmaker

__all__ = ["DEMO_CONFIG", "app", "main", "make_engine", "make_sessionmaker"]


def main() -> None:  # pragma: no cover - console entry for `python -m hub.cli`
    app(sys.argv[1:])
