"""The TAXII status resource of a POST (TAXII 2.1 section 4.3): stored once, read by its submitter only."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from sqlalchemy.orm import Session

from hub.store.models import Status


def status_resource(
    status_id: str, request_timestamp: str, successes: list[dict[str, Any]], failures: list[dict[str, Any]]
) -> dict[str, Any]:
    """A complete status resource whose lists always match its counts.

    TAXII 2.1 section 4.3.1 forbids empty lists, so a list with no entries is left out (counts stay).
    """
    body: dict[str, Any] = {
        "id": status_id,
        "status": "complete",
        "request_timestamp": request_timestamp,
        "total_count": len(successes) + len(failures),
        "success_count": len(successes),
        "failure_count": len(failures),
        "pending_count": 0,
    }
    if successes:
        body["successes"] = successes
    if failures:
        body["failures"] = failures
    return body


def pack_details(successes: list[dict[str, Any]], failures: list[dict[str, Any]]) -> bytes:
    """A status's entry lists, compressed: an envelope's thousand entries shrink about tenfold."""
    return zlib.compress(orjson.dumps({"successes": successes, "failures": failures}), 1)


def unpack_details(blob: bytes) -> dict[str, list[dict[str, Any]]]:
    """The entry lists stored by `pack_details`."""
    details: dict[str, list[dict[str, Any]]] = orjson.loads(zlib.decompress(blob))
    return details


def keep(
    session: Session,
    *,
    status_id: str,
    collection_id: str,
    group_id: int,
    org_id: int,
    request_timestamp: str,
    successes: list[dict[str, Any]],
    failures: list[dict[str, Any]],
) -> None:
    """Store the status of a completed POST (in the transaction that stored its objects)."""
    session.add(
        Status(
            id=status_id,
            collection_id=collection_id,
            group_id=group_id,
            organisation_id=org_id,
            request_timestamp=request_timestamp,
            status="complete",
            total_count=len(successes) + len(failures),
            success_count=len(successes),
            failure_count=len(failures),
            pending_count=0,
            details=pack_details(successes, failures),
        )
    )


def submitted_status(
    session: Session, *, status_id: str, group_id: int, org_id: int
) -> dict[str, Any] | None:
    """The status resource `status_id` of a POST `org_id` made in trust group `group_id`; None for any
    other (unknown, another group's, another organisation's: the same answer)."""
    row = session.get(Status, status_id[:36])
    if row is None or row.group_id != group_id or row.organisation_id != org_id:
        return None
    details = unpack_details(row.details)
    return status_resource(row.id, row.request_timestamp, details["successes"], details["failures"])


MAX_ENTRY_TEXT = 500  # characters of a status entry's message or id: junk entries stay small


def failure_entry(obj: Any, message: str) -> dict[str, Any]:
    """A status's failure entry for `obj` (its id and version when it has them), texts cut short."""
    entry: dict[str, Any] = {"message": message[:MAX_ENTRY_TEXT]}
    if isinstance(obj, dict):
        if isinstance(obj.get("id"), str):
            entry["id"] = obj["id"][:MAX_ENTRY_TEXT]
        v = obj.get("modified") or obj.get("created")
        if isinstance(v, str):
            entry["version"] = v[:40]
    entry.setdefault("id", "")
    return entry
