"""The `hub` command: serve and demo, the database, trust groups, keys, imports and feed sync, export and
push, policy explain, the audit log, console accounts, and the coordinators' commands through the admin API.

One module per command group; importing this package registers them all on `app`.
"""

from __future__ import annotations

import sys

from hub.cli import (  # noqa: F401  (importing a command module registers its commands)
    audit,
    config,
    db,
    feedback,
    imports,
    key,
    manage,
    outbound,
    policy,
    serve,
    sync,
    trust,
    watch,
    webconsole,
)
from hub.cli.app import app
from hub.cli.serve import DEMO_CONFIG
from hub.db import make_engine, make_sessionmaker

__all__ = ["DEMO_CONFIG", "app", "main", "make_engine", "make_sessionmaker"]


def main() -> None:  # pragma: no cover - console entry for `python -m hub.cli`
    app(sys.argv[1:])
