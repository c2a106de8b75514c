"""`hub --url URL feedback ...`: a member's reports on objects it may read, and the publisher's answer
to a hold, through the lookup API (/lookup/v1, the key in HUB_API_KEY; see hub.feedback)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import typer

from hub.cli.app import app
from hub.cli.common import _fail
from hub.cli.remote import JSON, TIMEOUT, _answer, remote, show

feedback_app = typer.Typer(
    help="Feedback to publishers (remote): sighting, false-positive, note, show, held, confirm, revoke.",
    no_args_is_help=True,
)
app.add_typer(feedback_app, name="feedback")
COLLECTION = typer.Option(None, "--collection", help="the collection id (default: the first holding it)")
TLP = typer.Option(None, "--tlp", help="the report's TLP (default: the object's own)")


def _lookup(ctx: typer.Context, method: str, path: str, body: Any = None) -> Any:
    r = remote(ctx)
    if not r.url:
        _fail("this command talks to a hub: give --url URL (or HUB_URL, or --profile NAME)")
    if not r.key:
        _fail("no API key: set HUB_API_KEY (or put `key` in the profile)")
    url = str(r.url).rstrip("/") + "/lookup/v1" + path
    headers = {"Accept": "application/json", "Authorization": f"Bearer {r.key}"}
    try:
        resp = httpx.request(method, url, json=body, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        _fail(f"{r.url}: {type(exc).__name__}: {exc}")
    return _answer(resp)


def _report(ctx: typer.Context, object_id: str, body: dict[str, Any], as_json: bool) -> None:
    body = {k: v for k, v in body.items() if v is not None}
    show(_lookup(ctx, "POST", f"/objects/{quote(object_id, safe='')}/feedback", body), as_json=as_json)


@feedback_app.command("sighting")
def sighting(
    ctx: typer.Context,
    object_id: str,
    count: int = typer.Option(1, help="how many times it was seen"),
    first_seen: str | None = typer.Option(None, help="RFC 3339 UTC"),
    last_seen: str | None = typer.Option(None, help="RFC 3339 UTC (default: now)"),
    text: str = typer.Option("", help="a description"),
    tlp: str | None = TLP,
    collection: str | None = COLLECTION,
    as_json: bool = JSON,
) -> None:
    """Tell the publisher you saw an object (a STIX sighting)."""
    _report(ctx, object_id, {"kind": "sighting", "count": count, "first_seen": first_seen,
                             "last_seen": last_seen, "text": text, "tlp": tlp,
                             "collection_id": collection}, as_json)  # fmt: skip


@feedback_app.command("false-positive")
def false_positive(
    ctx: typer.Context,
    object_id: str,
    text: str = typer.Option("", help="why it is a false positive"),
    tlp: str | None = TLP,
    collection: str | None = COLLECTION,
    as_json: bool = JSON,
) -> None:
    """Tell the publisher an object is a false positive (a STIX opinion, strongly-disagree)."""
    _report(ctx, object_id, {"kind": "false-positive", "text": text, "tlp": tlp, "collection_id": collection},
            as_json)  # fmt: skip


@feedback_app.command("note")
def note(
    ctx: typer.Context,
    object_id: str,
    text: str,
    tlp: str | None = TLP,
    collection: str | None = COLLECTION,
    as_json: bool = JSON,
) -> None:
    """Send the publisher a note on an object (a STIX note)."""
    _report(ctx, object_id, {"kind": "note", "text": text, "tlp": tlp, "collection_id": collection}, as_json)


@feedback_app.command("show")
def show_feedback(ctx: typer.Context, object_id: str, as_json: bool = JSON) -> None:
    """What you may learn of the feedback on an object: counts, and the reports the group's policy shows."""
    data = _lookup(ctx, "GET", f"/objects/{quote(object_id, safe='')}/feedback")
    if as_json:
        show(data, as_json=True)
        return
    reports = data.pop("reports")
    show(data, as_json=False)
    show(reports, as_json=False, columns=["kind", "reporter", "count", "last_seen", "date_added"])


@feedback_app.command("held")
def held(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Your objects that false-positive reports hold out of device lists."""
    show(
        _lookup(ctx, "GET", "/feedback/held")["held"], as_json=as_json, columns=["object_id", "collection_id"]
    )


@feedback_app.command("confirm")
def confirm(
    ctx: typer.Context, object_id: str, collection: str | None = COLLECTION, as_json: bool = JSON
) -> None:
    """Keep your held object on device lists (only later reports count towards a new hold)."""
    body = {"action": "confirm", "collection_id": collection}
    show(_lookup(ctx, "POST", f"/objects/{quote(object_id, safe='')}/decision", body), as_json=as_json)


@feedback_app.command("revoke")
def revoke(
    ctx: typer.Context, object_id: str, collection: str | None = COLLECTION, as_json: bool = JSON
) -> None:
    """Revoke your held object (a new version with revoked: true)."""
    body = {"action": "revoke", "collection_id": collection}
    show(_lookup(ctx, "POST", f"/objects/{quote(object_id, safe='')}/decision", body), as_json=as_json)
