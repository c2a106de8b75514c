"""FastAPI dependencies of the TAXII surface only: content negotiation.

The session, settings and principal dependencies every surface shares live in `hub.web.deps`.
"""

from __future__ import annotations

from fastapi import Request

from hub.taxii.media import check_accept


def taxii_accept(request: Request) -> None:
    """TAXII routes answer only clients that accept the TAXII media type (406 otherwise)."""
    check_accept(request.headers.get("accept"))
