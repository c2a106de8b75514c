"""FastAPI dependencies of the TAXII surface only: content negotiation and the scope a key needs.

The session, settings and principal dependencies every surface shares live in `hub.web.deps`.
"""

from __future__ import annotations

from fastapi import Depends, Request

from hub.taxii.media import check_accept
from hub.trust.service import Principal
from hub.web.deps import principal

# Both checks are header and attribute look-ups: `async def` keeps them on the event loop, where a plain
# `def` dependency costs a round trip through the thread pool on every TAXII request.


async def taxii_accept(request: Request) -> None:
    """TAXII routes answer only clients that accept the TAXII media type (406 otherwise)."""
    check_accept(request.headers.get("accept"))


async def taxii_scope(request: Request, who: Principal = Depends(principal)) -> None:
    """A key reads with the `read` scope (GET, HEAD) and adds or deletes with `write` (403 otherwise)."""
    who.require("read" if request.method in ("GET", "HEAD") else "write")
