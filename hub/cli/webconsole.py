"""`hub console`: console sign-in for people (on the database, for the hub's operator)."""

from __future__ import annotations

import secrets
import sys

import typer

from hub.cli.app import app
from hub.cli.common import _fail, _sessions, _settings, console
from hub.db import begin_write

console_app = typer.Typer(
    help="The web console: passwords and sessions of people's accounts.", no_args_is_help=True
)
app.add_typer(console_app, name="console")


def set_console_password(url: str, user: str, password: str, *, create: bool) -> None:
    """Give `account@organisation` a console password (made with --create when the account is new)."""
    from hub.console import accounts
    from hub.errors import HubError
    from hub.trust.models import Account, Organisation

    parsed = accounts.parse_user(user)
    if parsed is None:
        _fail(f"{user!r} is not of the form account@organisation")
    sm = _sessions(url)
    with sm() as session, session.begin():
        begin_write(session)
        found = accounts.find_account(session, user)
        if found is None:
            org = session.query(Organisation).filter_by(slug=parsed[1]).one_or_none()
            if org is None:
                _fail(f"there is no organisation {parsed[1]!r}")
            if not create:
                _fail(f"{parsed[1]} has no account {parsed[0]!r} (add --create to make it)")
            acct = Account(organisation_id=org.id, name=parsed[0], is_admin=False)
            session.add(acct)
            session.flush()
        else:
            acct = found[0]
        try:
            accounts.set_password(session, account=acct, password=password)
        except HubError as exc:
            _fail(exc.description or exc.title)


@console_app.command("set-password")
def set_password(
    user: str = typer.Argument(..., help="account@organisation, e.g. alice@cert-mu"),
    create: bool = typer.Option(
        False, "--create", help="make the account when the organisation has none of that name"
    ),
    generate: bool = typer.Option(False, "--generate", help="generate a password and print it once"),
    stdin: bool = typer.Option(False, "--password-stdin", help="read the password from standard input"),
) -> None:
    """Set the console password of an account; its open console sessions end."""
    if generate:
        password = secrets.token_urlsafe(15)
    elif stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    set_console_password(_settings().database_url, user, password, create=create)
    console.print(f"console password set for {user}", highlight=False)
    if generate:
        console.print(f"password: {password}", highlight=False, markup=False)


@console_app.command("sign-out")
def sign_out(user: str = typer.Argument(..., help="account@organisation")) -> None:
    """End every console session of an account."""
    from hub.console import accounts

    sm = _sessions(_settings().database_url)
    with sm() as session, session.begin():
        begin_write(session)
        found = accounts.find_account(session, user)
        if found is None:
            _fail(f"there is no account {user!r}")
        n = accounts.end_all_sessions(session, account_id=found[0].id)
    console.print(f"{n} console session(s) of {user} ended", highlight=False)
