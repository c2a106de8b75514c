"""`hub key`: API keys on the database (create, list, revoke)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer
from sqlalchemy import select

from hub.cli.app import app
from hub.cli.common import _fail, _sessions, _settings, console

key_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(key_app, name="key")


def _account(session, org_slug: str, account: str):  # type: ignore[no-untyped-def]
    from hub.trust.models import Account, Organisation

    row = session.execute(
        select(Account).join(Organisation).where(Organisation.slug == org_slug, Account.name == account)
    ).scalar_one_or_none()
    if row is None:
        _fail(f"no account {account!r} in organisation {org_slug!r}")
    return row


@key_app.command("create")
def key_create(
    org: str = typer.Option(..., help="organisation slug"),
    account: str = typer.Option("taxii", help="account name"),
    label: str = typer.Option("", help="a label to recognise the key by"),
    expires_days: int | None = typer.Option(None, help="days until the key expires"),
) -> None:
    """Issue an API key (printed once; only its hash is stored)."""
    from hub.trust.service import create_api_key

    sm = _sessions(_settings().database_url)
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    with sm() as session, session.begin():
        _key, secret = create_api_key(
            session, account=_account(session, org, account), label=label, expires_at=expires
        )
    console.print(secret, soft_wrap=True)


@key_app.command("revoke")
def key_revoke(key_id: str = typer.Argument(..., help="the key id: the part after 'hub_'")) -> None:
    """Revoke an API key at once."""
    from hub.trust.service import revoke_api_key

    sm = _sessions(_settings().database_url)
    with sm() as session, session.begin():
        ok = revoke_api_key(session, key_id=key_id.removeprefix("hub_").split("_")[0])
    if not ok:
        _fail(f"no key {key_id!r}")
    console.print(f"revoked {key_id}")


@key_app.command("list")
def key_list(org: str = typer.Option(..., help="organisation slug")) -> None:
    """List an organisation's keys (ids, labels, state; never secrets)."""
    from hub.trust.models import Account, ApiKey, Organisation

    sm = _sessions(_settings().database_url)
    with sm() as session:
        rows = session.execute(
            select(ApiKey, Account).join(Account).join(Organisation).where(Organisation.slug == org)
        )
        console.print(
            "key id            account   label     created              expires              revoked"
        )
        for k, a in rows:
            console.print(
                f"{k.key_id}  {a.name:<8}  {k.label:<8}  {str(k.created_at)[:19]:<19}  "
                f"{str(k.expires_at or '-')[:19]:<19}  {str(k.revoked_at or '-')[:19]}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
