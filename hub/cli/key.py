"""`hub key`: API keys (create, list, rotate, revoke), on the database or, with --url, through the API.

On the database the operator acts as the platform; through the admin API the caller's own rights apply
(a key manages its own account's keys; a coordinator lists and suspends a member's keys in its group).
Both run the same service (hub.trust.keys), which writes the audit event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from hub.cli.app import app
from hub.cli.common import _fail, _sessions, _settings, console
from hub.cli.remote import JSON, call, remote, show
from hub.db import begin_write
from hub.errors import HubError
from hub.trust.service import SCOPES

key_app = typer.Typer(help="API keys: create, list, rotate, revoke.", no_args_is_help=True)
app.add_typer(key_app, name="key")

KEY_COLUMNS = ["key_id", "account", "label", "scopes", "created_at", "expires_at", "state", "works_until"]
SCOPE_HELP = "what the key may do (repeat): download, read, write, manage; default: all four"


def _local(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a key service on the database as the operator, in one transaction."""
    from hub.admin.schemas import KeyRead
    from hub.trust.keys import KeyInfo
    from hub.trust.manage import OPERATOR

    sm = _sessions(_settings().database_url)
    try:
        with sm() as session, session.begin():
            begin_write(session)
            out = fn(session, OPERATOR, *args, **kwargs)
            if isinstance(out, list):  # rendered inside the session, while its rows are loaded
                return [
                    KeyRead.of(k).model_dump(mode="json") if isinstance(k, KeyInfo) else k.json() for k in out
                ]
            return out
    except HubError as exc:
        _fail(exc.description or exc.title)


@key_app.command("create")
def key_create(
    ctx: typer.Context,
    org: str = typer.Option(..., help="organisation slug"),
    account: str | None = typer.Option(
        None, help="account name (default: the caller's own; 'taxii' on the database)"
    ),
    label: str = typer.Option("", help="a label to recognise the key by"),
    expires_days: int | None = typer.Option(None, help="days until the key expires"),
    scope: list[str] | None = typer.Option(None, "--scope", help=SCOPE_HELP),
    as_json: bool = JSON,
) -> None:
    """Issue an API key (printed once; only its SHA-256 digest is stored). A device gets --scope download."""
    from hub.trust.keys import issue_key

    if expires_days is not None and expires_days < 1:
        _fail("--expires-days: at least 1")
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    unknown = sorted(set(scope or []) - set(SCOPES))
    if unknown:
        _fail(f"--scope: one of {', '.join(SCOPES)} (not {', '.join(unknown)})")
    scopes = sorted(set(scope)) if scope else None
    if remote(ctx).url:
        body = {"account": account, "label": label, "expires_at": expires.isoformat() if expires else None,
                "scopes": scopes}  # fmt: skip
        out = call(ctx, "POST", f"/organisations/{org}/keys", body=body)
        secret = out["secret"]
    else:
        info, secret = _local(issue_key, org, account=account, label=label, expires_at=expires, scopes=scopes)
        out = {"key_id": info.key.key_id, "secret": secret}
    if as_json:
        show(out, as_json=True)
    else:
        console.print(secret, soft_wrap=True)


key_app.command("issue", hidden=True, help="The same as `hub key create`.")(key_create)


def _key_id(key_id: str) -> str:
    return key_id.removeprefix("hub_").split("_")[0]


def _org_of_key(key_id: str) -> str:
    from sqlalchemy import select

    from hub.trust.models import Account, ApiKey, Organisation

    sm = _sessions(_settings().database_url)
    with sm() as session:
        slug = session.scalar(
            select(Organisation.slug)
            .join(Account, Account.organisation_id == Organisation.id)
            .join(ApiKey, ApiKey.account_id == Account.id)
            .where(ApiKey.key_id == key_id)
        )
    if slug is None:
        _fail(f"no key {key_id!r}")
    return str(slug)


@key_app.command("revoke")
def key_revoke(
    ctx: typer.Context,
    key_id: str = typer.Argument(..., help="the key id: the part after 'hub_'"),
    org: str | None = typer.Option(None, help="the key's organisation (needed with --url)"),
) -> None:
    """Revoke an API key at once."""
    from hub.trust.keys import revoke_key

    kid = _key_id(key_id)
    if remote(ctx).url:
        if not org:
            _fail("--org: name the key's organisation")
        call(ctx, "POST", f"/organisations/{org}/keys/{kid}/revoke")
    else:
        _local(revoke_key, org or _org_of_key(kid), kid)
    console.print(f"revoked {kid}")  # a whole key pasted here is accepted; only its id is ever printed


@key_app.command("rotate")
def key_rotate(
    ctx: typer.Context,
    key_id: str = typer.Argument(..., help="the key id: the part after 'hub_'"),
    org: str | None = typer.Option(None, help="the key's organisation (needed with --url)"),
    grace_hours: float = typer.Option(24.0, help="how long the old key keeps working (at most 720)"),
    as_json: bool = JSON,
) -> None:
    """Replace a key: prints the new one (once); the old one works for the grace period, then expires."""
    from hub.trust.keys import rotate_key

    kid = _key_id(key_id)
    grace_s = int(grace_hours * 3600)
    if remote(ctx).url:
        if not org:
            _fail("--org: name the key's organisation")
        out = call(ctx, "POST", f"/organisations/{org}/keys/{kid}/rotate", body={"grace_seconds": grace_s})
        secret, until = out["secret"], out["previous"]["expires_at"]
    else:
        new, secret, old = _local(rotate_key, org or _org_of_key(kid), kid, grace=timedelta(seconds=grace_s))
        out = {"key_id": new.key.key_id, "secret": secret}
        until = str(old.key.expires_at)
    if as_json:
        show(out, as_json=True)
        return
    console.print(f"the old key {kid} works until {until}; the new key (shown once):", highlight=False)
    console.print(secret, soft_wrap=True, highlight=False, markup=False)


@key_app.command("list")
def key_list(
    ctx: typer.Context, org: str = typer.Option(..., help="organisation slug"), as_json: bool = JSON
) -> None:
    """List an organisation's keys (ids, labels, state; never secrets)."""
    from hub.trust.keys import list_keys

    rows = call(ctx, "GET", f"/organisations/{org}/keys") if remote(ctx).url else _local(list_keys, org)
    show(rows, as_json=as_json, columns=KEY_COLUMNS)


def _suspension(ctx: typer.Context, action: str, key_id: str, group: str, org: str) -> None:
    from hub.trust.keys import reinstate_key, suspend_key

    kid = _key_id(key_id)
    if remote(ctx).url:
        call(ctx, "POST", f"/groups/{group}/members/{org}/keys/{kid}/{action}")
    else:
        _local(suspend_key if action == "suspend" else reinstate_key, group, org, kid)
    done = "suspended" if action == "suspend" else "reinstated"
    console.print(f"{done} {kid} in {group}", highlight=False, markup=False)


@key_app.command("suspend")
def key_suspend(
    ctx: typer.Context,
    key_id: str = typer.Argument(..., help="the key id: the part after 'hub_'"),
    group: str = typer.Option(..., help="a group you coordinate"),
    org: str = typer.Option(..., help="the member whose key it is"),
) -> None:
    """Suspend a member's key in a group you coordinate: it reads and writes nothing there only."""
    _suspension(ctx, "suspend", key_id, group, org)


@key_app.command("reinstate")
def key_reinstate(
    ctx: typer.Context,
    key_id: str = typer.Argument(..., help="the key id: the part after 'hub_'"),
    group: str = typer.Option(..., help="a group you coordinate"),
    org: str = typer.Option(..., help="the member whose key it is"),
) -> None:
    """Lift a key's suspension in a group you coordinate."""
    _suspension(ctx, "reinstate", key_id, group, org)


@key_app.command("members")
def key_members(
    ctx: typer.Context,
    group: str = typer.Option(..., help="a group you coordinate"),
    org: str = typer.Option(..., help="a member of it"),
    as_json: bool = JSON,
) -> None:
    """A member's keys as a coordinator of the group sees them (ids, states, scopes, suspended here)."""
    from hub.trust.keys import list_member_keys

    if remote(ctx).url:
        rows = call(ctx, "GET", f"/groups/{group}/members/{org}/keys")
    else:
        rows = _local(list_member_keys, group, org)
    show(rows, as_json=as_json, columns=["key_id", "account", "scopes", "created_at", "state", "suspended"])


# ---------------------------------------------------------------- platform admin bootstrap

admin_app = typer.Typer(help="Bootstrap the platform admin (on the database).", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


@admin_app.command("create-key")
def admin_create_key(
    org: str = typer.Option(
        "hub-operator", help="the operator's organisation (made if missing; in no group)"
    ),
    account: str = typer.Option("admin", help="the platform-admin account (made if missing)"),
    label: str = typer.Option("platform admin", help="a label to recognise the key by"),
) -> None:
    """Print a new platform-admin API key, once: the operator's way in to the admin API."""
    from hub.trust.keys import bootstrap_admin_key

    sm = _sessions(_settings().database_url)
    try:
        with sm() as session, session.begin():
            begin_write(session)
            _info, secret = bootstrap_admin_key(session, org_slug=org, account=account, label=label)
    except HubError as exc:
        _fail(exc.description or exc.title)
    console.print(secret, soft_wrap=True, highlight=False, markup=False)
