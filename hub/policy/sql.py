"""The SQL twin of the TLP visibility rule: one default-deny predicate for every read query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_

__all__ = ["needs_redaction_clause", "visible_clause"]


def visible_clause(
    *,
    reader_org_id: int,
    clearance: int | None,
    tlp_col: ColumnElement[Any],
    producer_col: ColumnElement[Any],
) -> ColumnElement[bool]:
    """Rows the reader may see: its own (`producer_col == reader_org_id`) or `tlp_col <= clearance`.

    Twin of `hub.policy.rules.visible_level`. Whether the reader may read the collection at all is
    decided before the query (`rules.read_clearance`, which also gives the clearance to pass: RED for
    the owner and recipients of a named-recipient collection); a `clearance` of None means it may not,
    and the clause matches nothing. Default-deny: a NULL tlp or producer never compares true, so such a
    row is hidden rather than shown.
    """
    if clearance is None:
        return false()
    return or_(producer_col == reader_org_id, tlp_col <= int(clearance))


def needs_redaction_clause(*, clearance: int, redact_tlp_col: ColumnElement[Any]) -> ColumnElement[bool]:
    """Rows with optional content marked above `clearance`: serve `granular.redact`'s copy, not the bytes."""
    return and_(redact_tlp_col.is_not(None), redact_tlp_col > int(clearance))
