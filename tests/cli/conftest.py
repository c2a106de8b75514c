"""Fixtures of the CLI tests: the live hub (a `hub serve` process) with a platform-admin key."""

from __future__ import annotations

from typing import Any

import pytest

from hub.db import begin_write, make_engine, make_sessionmaker
from hub.trust.keys import bootstrap_admin_key


@pytest.fixture(scope="module")
def hub(live: Any) -> Any:
    """The live hub with a platform-admin key in `keys['admin']`."""
    eng = make_engine(live.server.db_url)
    with make_sessionmaker(eng)() as session, session.begin():
        begin_write(session)
        _info, live.keys["admin"] = bootstrap_admin_key(session)
    eng.dispose()
    return live
