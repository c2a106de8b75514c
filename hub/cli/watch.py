"""Constituency watch on the command line.

Remote, through the admin API (`hub --url URL ...`, key in HUB_API_KEY): `hub constituency show |
declare | confirm` and `hub subscription list | add | remove`. Local, on the hub's database (the
operator): `hub asn load` (the ASN prefix map) and `hub notify run-once` (one pass of the watch jobs,
for cron users who run no `hub sync worker`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from hub.cli.app import app
from hub.cli.common import _fail, _sessions, _settings, console
from hub.cli.remote import JSON, call, show

constituency_app = typer.Typer(
    help="An organisation's constituency (remote): show, declare, confirm.", no_args_is_help=True
)
app.add_typer(constituency_app, name="constituency")
subscription_app = typer.Typer(
    help="An organisation's watch subscriptions (remote): list, add, remove.", no_args_is_help=True
)
app.add_typer(subscription_app, name="subscription")
asn_app = typer.Typer(help="The ASN prefix map constituencies' ASNs expand to (local).", no_args_is_help=True)
app.add_typer(asn_app, name="asn")
notify_app = typer.Typer(help="Constituency watch jobs: match and deliver (local).", no_args_is_help=True)
app.add_typer(notify_app, name="notify")

ENTRY_COLUMNS = ["kind", "value", "confirmed"]
SUBSCRIPTION_COLUMNS = ["id", "kind", "url", "to", "digest", "delivered", "attempts", "last_error"]


@constituency_app.command("show")
def constituency_show(ctx: typer.Context, org: str, as_json: bool = JSON) -> None:
    """The organisation's entries, confirmed or waiting (for itself, admins and its coordinators)."""
    data = call(ctx, "GET", f"/organisations/{org}/constituency")
    if as_json:
        show(data, as_json=True)
        return
    show(data["entries"], as_json=False, columns=ENTRY_COLUMNS)
    console.print(f"{data['pending']} waiting for confirmation", highlight=False, markup=False)


@constituency_app.command("declare")
def constituency_declare(
    ctx: typer.Context,
    org: str,
    network: list[str] = typer.Option([], "--network", help="an IPv4 or IPv6 network (CIDR); repeat"),
    asn: list[str] = typer.Option([], "--asn", help="an AS number (64500 or AS64500); repeat"),
    domain: list[str] = typer.Option([], "--domain", help="a domain with its subdomains, or a ccTLD (.ke)"),
    as_json: bool = JSON,
) -> None:
    """Declare your organisation's constituency: it replaces the previous declaration; new entries wait
    for a platform admin or a coordinator of one of your groups to confirm them."""
    body = {"networks": network, "asns": asn, "domains": domain}
    data = call(ctx, "PUT", f"/organisations/{org}/constituency", body=body)
    if as_json:
        show(data, as_json=True)
        return
    show(data["entries"], as_json=False, columns=ENTRY_COLUMNS)
    console.print(f"{data['pending']} waiting for confirmation", highlight=False, markup=False)


@constituency_app.command("confirm")
def constituency_confirm(
    ctx: typer.Context,
    org: str,
    entry: list[str] = typer.Option([], "--entry", help="confirm only this entry (kind:value or value)"),
    as_json: bool = JSON,
) -> None:
    """Confirm an organisation's waiting entries (a platform admin, or a coordinator of its group)."""
    body = {"entries": entry} if entry else None
    data = call(ctx, "POST", f"/organisations/{org}/constituency/confirm", body=body)
    if as_json:
        show(data, as_json=True)
        return
    show(data["entries"], as_json=False, columns=ENTRY_COLUMNS)


@subscription_app.command("list")
def subscription_list(ctx: typer.Context, org: str, as_json: bool = JSON) -> None:
    """Your organisation's subscriptions, with their last error and failed attempts."""
    show(
        call(ctx, "GET", f"/organisations/{org}/subscriptions"), as_json=as_json, columns=SUBSCRIPTION_COLUMNS
    )


@subscription_app.command("add")
def subscription_add(
    ctx: typer.Context,
    org: str,
    webhook: str | None = typer.Option(None, "--webhook", help="the receiver's http(s) URL"),
    secret_env: str = typer.Option(
        "HUB_WEBHOOK_SECRET", help="the environment variable holding the webhook's signing secret"
    ),
    email: str | None = typer.Option(None, "--email", help="the address of an email digest"),
    digest: str = typer.Option("immediate", help="email: immediate, hourly or daily"),
    events: str = typer.Option(
        "inside",
        "--events",
        help="comma-separated: inside (your constituency), feedback (reports and holds on your objects)",
    ),
    as_json: bool = JSON,
) -> None:
    """Subscribe to `inside` or `feedback` events by webhook (signed with the secret in
    $HUB_WEBHOOK_SECRET) or email."""
    if (webhook is None) == (email is None):
        _fail("give --webhook URL or --email ADDRESS")
    wanted = [e.strip() for e in events.split(",") if e.strip()]
    if webhook is not None:
        secret = os.environ.get(secret_env, "")
        if not secret:
            _fail(f"set {secret_env} to the webhook's signing secret (16 characters or more)")
        body: dict[str, Any] = {"kind": "webhook", "url": webhook, "secret": secret, "events": wanted}
    else:
        body = {"kind": "email", "to": email, "digest": digest, "events": wanted}
    show(call(ctx, "POST", f"/organisations/{org}/subscriptions", body=body), as_json=as_json)


@subscription_app.command("remove")
def subscription_remove(ctx: typer.Context, org: str, subscription_id: int) -> None:
    """Remove a subscription."""
    call(ctx, "DELETE", f"/organisations/{org}/subscriptions/{subscription_id}")
    console.print(f"removed subscription {subscription_id} of {org}", highlight=False, markup=False)


@asn_app.command("load")
def asn_load(
    paths: list[Path] = typer.Argument(
        None, help="pyasn IPASN or RIR delegated files (default: HUB_ASN_DATA)"
    ),
) -> None:
    """Replace the ASN prefix map with the given files' (no network access: the operator fetches them)."""
    from hub.db import begin_write
    from hub.trust.constituency import load_asn_data

    s = _settings()
    files = list(paths or []) or [Path(p.strip()) for p in s.asn_data.split(",") if p.strip()]
    if not files:
        _fail("give the ASN files, or set HUB_ASN_DATA")
    sm = _sessions(s.database_url)
    try:
        with sm() as session, session.begin():
            begin_write(session)
            n = load_asn_data(session, files)
    except (OSError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"loaded {n} (asn, prefix) pairs from {len(files)} file(s)", highlight=False, markup=False)


@notify_app.command("run-once")
def notify_run_once(
    worker_id: str | None = typer.Option(None, "--worker-id", help="recorded with the leases (host:pid)"),
) -> None:
    """Match the objects added since the last pass and deliver what is due, once (for cron)."""
    from hub.sync.notify import NotifyConfig, run_once
    from hub.sync.worker import default_worker_id

    s = _settings()
    report = run_once(
        _sessions(s.database_url),
        worker_id=worker_id or default_worker_id(),
        config=NotifyConfig.from_settings(s, os.environ),
    )
    console.print(
        f"matched {report.matched} value(s) in {report.versions} new version(s); "
        f"{len(report.deliveries)} deliver{'y' if len(report.deliveries) == 1 else 'ies'}",
        highlight=False,
        markup=False,
    )
    for d in report.deliveries:
        state = "ok" if d.error is None else f"failed: {d.error}"
        console.print(
            f"  {d.organisation} {d.kind} #{d.subscription_id}: {d.count} match(es), {state}",
            highlight=False,
            markup=False,
        )
