"""Coordinators' commands, run remotely through the admin API (`hub --url URL ...`, key in HUB_API_KEY).

`hub whoami`, `org`, `group`, `member`, `invite`, `collection`, `feed`, `audit`, `stats`.
Every one is a thin call of /admin/v1: authorisation, validation and audit happen in the hub's services.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from hub.cli.app import app
from hub.cli.common import _fail, console
from hub.cli.remote import JSON, ascii_lines, call, show

org_app = typer.Typer(
    help="Organisations (remote): list, show, create, update, deactivate.", no_args_is_help=True
)
group_app = typer.Typer(help="Trust groups (remote): list, show, create, update.", no_args_is_help=True)
member_app = typer.Typer(help="A group's members (remote): list, add, update, remove.", no_args_is_help=True)
invite_app = typer.Typer(help="Invitations (remote): create, list, revoke, redeem.", no_args_is_help=True)
collection_app = typer.Typer(
    help="A group's collections (remote): list, show, create, update, archive.", no_args_is_help=True
)
audit_app = typer.Typer(
    help="The audit log: list, export (through the API); rollup, prune (on the database).",
    no_args_is_help=True,
)
app.add_typer(org_app, name="org")
app.add_typer(group_app, name="group")
app.add_typer(member_app, name="member")
app.add_typer(invite_app, name="invite")
app.add_typer(collection_app, name="collection")
app.add_typer(audit_app, name="audit")


def _given(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


@app.command("whoami")
def whoami(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Who the API key stands for: organisation, platform admin or not, role and clearance per group."""
    show(call(ctx, "GET", "/me"), as_json=as_json)


# ---------------------------------------------------------------- organisations

ORG_COLUMNS = ["slug", "name", "country", "contact", "active", "pending_approval"]


@org_app.command("list")
def org_list(
    ctx: typer.Context,
    pending: bool = typer.Option(False, "--pending", help="only those awaiting a platform admin's approval"),
    as_json: bool = JSON,
) -> None:
    """The organisations you may know of: yours and the members of the groups you coordinate."""
    params = {"pending": "true"} if pending else None
    show(call(ctx, "GET", "/organisations", params=params), as_json=as_json, columns=ORG_COLUMNS)


@org_app.command("show")
def org_show(ctx: typer.Context, org: str, as_json: bool = JSON) -> None:
    """One organisation."""
    show(call(ctx, "GET", f"/organisations/{org}"), as_json=as_json)


@org_app.command("create")
def org_create(
    ctx: typer.Context,
    slug: str,
    name: str = typer.Option(..., help="the organisation's name"),
    country: str | None = typer.Option(None, help="ISO 3166-1 alpha-2 code"),
    contact: str | None = typer.Option(None, help="a contact address"),
    as_json: bool = JSON,
) -> None:
    """Create an organisation (platform admin; coordinators invite instead)."""
    body = _given(slug=slug, name=name, country=country, contact=contact)
    show(call(ctx, "POST", "/organisations", body=body), as_json=as_json)


@org_app.command("update")
def org_update(
    ctx: typer.Context,
    org: str,
    name: str | None = typer.Option(None),
    country: str | None = typer.Option(None),
    contact: str | None = typer.Option(None),
    as_json: bool = JSON,
) -> None:
    """Change an organisation's name, country or contact (your own; any as platform admin)."""
    body = _given(name=name, country=country, contact=contact)
    show(call(ctx, "PATCH", f"/organisations/{org}", body=body), as_json=as_json)


@org_app.command("approve")
def org_approve(ctx: typer.Context, org: str, as_json: bool = JSON) -> None:
    """Approve an organisation made by redeeming an invitation (platform admin): its keys work from now."""
    show(call(ctx, "POST", f"/organisations/{org}/approve"), as_json=as_json)


@org_app.command("deactivate")
def org_deactivate(ctx: typer.Context, org: str, as_json: bool = JSON) -> None:
    """Deactivate an organisation (platform admin): its keys fail at once; its objects stay."""
    show(call(ctx, "POST", f"/organisations/{org}/deactivate"), as_json=as_json)


# ---------------------------------------------------------------- trust groups

GROUP_COLUMNS = ["slug", "name", "community", "default_tlp", "max_tlp", "api_root"]
TLP_HELP = "clear, green, amber, amber+strict or red"


@group_app.command("list")
def group_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The groups you are a member of (all, as platform admin)."""
    show(call(ctx, "GET", "/groups"), as_json=as_json, columns=GROUP_COLUMNS)


@group_app.command("show")
def group_show(ctx: typer.Context, group: str, as_json: bool = JSON) -> None:
    """One trust group."""
    show(call(ctx, "GET", f"/groups/{group}"), as_json=as_json)


@group_app.command("create")
def group_create(
    ctx: typer.Context,
    slug: str,
    name: str = typer.Option(...),
    description: str = typer.Option(""),
    community: str | None = typer.Option(None, help="groups of one community pass TLP:GREEN between them"),
    default_tlp: str = typer.Option("amber", help=f"for unmarked objects: {TLP_HELP}"),
    max_tlp: str = typer.Option("amber+strict", help=f"the ceiling of group collections: {TLP_HELP}"),
    as_json: bool = JSON,
) -> None:
    """Create a trust group (platform admin)."""
    body = _given(slug=slug, name=name, description=description, community=community,
                  default_tlp=default_tlp, max_tlp=max_tlp)  # fmt: skip
    show(call(ctx, "POST", "/groups", body=body), as_json=as_json)


@group_app.command("update")
def group_update(
    ctx: typer.Context,
    group: str,
    name: str | None = typer.Option(None),
    description: str | None = typer.Option(None),
    community: str | None = typer.Option(None, help="platform admin only"),
    default_tlp: str | None = typer.Option(None, help=TLP_HELP),
    max_tlp: str | None = typer.Option(None, help=TLP_HELP),
    min_ipv4_prefix: int | None = typer.Option(None, help="broadest IPv4 network on device lists (9-32)"),
    min_ipv6_prefix: int | None = typer.Option(None, help="broadest IPv6 network on device lists (16-128)"),
    benign_mode: str | None = typer.Option(None, help="flag (default) or refuse: known-benign values"),
    feedback_visibility: str | None = typer.Option(
        None, help="publisher (default), everyone-anonymous or everyone: who reads feedback in full"
    ),
    false_positive_threshold: int | None = typer.Option(
        None, help="organisations whose false positives hold an object off device lists (default 2)"
    ),
    as_json: bool = JSON,
) -> None:
    """Change a group's settings (its coordinators)."""
    body = _given(name=name, description=description, community=community, default_tlp=default_tlp,
                  max_tlp=max_tlp, min_ipv4_prefix=min_ipv4_prefix, min_ipv6_prefix=min_ipv6_prefix,
                  benign_mode=benign_mode, feedback_visibility=feedback_visibility,
                  false_positive_threshold=false_positive_threshold)  # fmt: skip
    show(call(ctx, "PATCH", f"/groups/{group}", body=body), as_json=as_json)


# ---------------------------------------------------------------- a group's own known-benign list

benign_app = typer.Typer(
    help="A group's own known-benign list (remote): list, add, remove.", no_args_is_help=True
)
app.add_typer(benign_app, name="benign")
BENIGN_COLUMNS = ["value", "kind", "note", "list", "created_at"]


@benign_app.command("list")
def benign_list(ctx: typer.Context, group: str, as_json: bool = JSON) -> None:
    """The values of a group you coordinate that no member's device should block."""
    show(call(ctx, "GET", f"/groups/{group}/benign"), as_json=as_json, columns=BENIGN_COLUMNS)


@benign_app.command("add")
def benign_add(
    ctx: typer.Context,
    group: str,
    value: str,
    note: str = typer.Option("", help="why it is there (one line)"),
    as_json: bool = JSON,
) -> None:
    """Add a value (an IP address or network, a domain, a URL or a hash) to the group's list."""
    show(call(ctx, "POST", f"/groups/{group}/benign", body={"value": value, "note": note}), as_json=as_json)


@benign_app.command("remove")
def benign_remove(ctx: typer.Context, group: str, value: str) -> None:
    """Take a value off the group's list."""
    call(ctx, "DELETE", f"/groups/{group}/benign", params={"value": value})
    console.print(f"removed {value} from the list of {group}")  # markup is off: the text as it is


# ---------------------------------------------------------------- memberships

MEMBER_COLUMNS = ["organisation", "name", "role", "clearance", "active"]


@member_app.command("list")
def member_list(ctx: typer.Context, group: str, as_json: bool = JSON) -> None:
    """The members of a group you coordinate."""
    show(call(ctx, "GET", f"/groups/{group}/members"), as_json=as_json, columns=MEMBER_COLUMNS)


@member_app.command("add")
def member_add(
    ctx: typer.Context,
    group: str,
    org: str,
    role: str = typer.Option(..., help="coordinator, contributor or reader"),
    clearance: str = typer.Option("amber", help=TLP_HELP),
    as_json: bool = JSON,
) -> None:
    """Add an organisation you know of to a group you coordinate (invite the others)."""
    body = {"organisation": org, "role": role, "clearance": clearance}
    show(call(ctx, "POST", f"/groups/{group}/members", body=body), as_json=as_json)


@member_app.command("update")
def member_update(
    ctx: typer.Context,
    group: str,
    org: str,
    role: str | None = typer.Option(None, help="coordinator, contributor or reader"),
    clearance: str | None = typer.Option(None, help=f"{TLP_HELP}; at most the group's max_tlp"),
    as_json: bool = JSON,
) -> None:
    """Change a member's role or clearance."""
    body = _given(role=role, clearance=clearance)
    show(call(ctx, "PATCH", f"/groups/{group}/members/{org}", body=body), as_json=as_json)


@member_app.command("remove")
def member_remove(ctx: typer.Context, group: str, org: str) -> None:
    """Remove a member: its next request to the group is refused; what it published stays."""
    call(ctx, "DELETE", f"/groups/{group}/members/{org}")
    console.print(f"removed {org} from {group}", highlight=False)


# ---------------------------------------------------------------- invitations

INVITE_COLUMNS = ["id", "organisation", "role", "clearance", "expires_at", "state"]


@invite_app.command("create")
def invite_create(
    ctx: typer.Context,
    group: str,
    org: str = typer.Argument(..., help="the invited organisation's slug (new or existing)"),
    name: str = typer.Option("", help="a new organisation's name"),
    country: str | None = typer.Option(None, help="a new organisation's country (ISO 3166-1 alpha-2)"),
    role: str = typer.Option("reader", help="coordinator, contributor or reader"),
    clearance: str = typer.Option("amber", help=TLP_HELP),
    expires_hours: int = typer.Option(168, help="hours until the invitation expires (at most 720)"),
    as_json: bool = JSON,
) -> None:
    """Invite an organisation into a group you coordinate; prints the one-time token to hand over."""
    body = _given(organisation=org, name=name, country=country, role=role, clearance=clearance,
                  expires_in_hours=expires_hours)  # fmt: skip
    out = call(ctx, "POST", f"/groups/{group}/invitations", body=body)
    if as_json:
        show(out, as_json=True)
        return
    console.print(f"invitation {out['id']} for {out['organisation']} ({out['role']}, {out['clearance']}), "
                  f"expires {out['expires_at']}. The token (shown once):", highlight=False)  # fmt: skip
    console.print(out["token"], soft_wrap=True, highlight=False, markup=False)


@invite_app.command("list")
def invite_list(ctx: typer.Context, group: str, as_json: bool = JSON) -> None:
    """A group's invitations and their state (never their tokens)."""
    show(call(ctx, "GET", f"/groups/{group}/invitations"), as_json=as_json, columns=INVITE_COLUMNS)


@invite_app.command("revoke")
def invite_revoke(ctx: typer.Context, group: str, invitation: str, as_json: bool = JSON) -> None:
    """Withdraw a pending invitation."""
    show(call(ctx, "DELETE", f"/groups/{group}/invitations/{invitation}"), as_json=as_json)


@invite_app.command("redeem")
def invite_redeem(
    ctx: typer.Context,
    token: str = typer.Argument(..., envvar="HUB_INVITATION", help="the token (or HUB_INVITATION)"),
    account: str = typer.Option("taxii", help="a new organisation's first account"),
    label: str = typer.Option("first key", help="the label of its first API key"),
    as_json: bool = JSON,
) -> None:
    """Redeem an invitation: a new organisation gets its account and first API key (printed once); an
    existing one redeems with its own key (HUB_API_KEY) and joins the group."""
    from hub.cli.remote import remote

    body = {"token": token, "account": account, "key_label": label}
    out = call(ctx, "POST", "/invitations/redeem", body=body, auth=bool(remote(ctx).key))
    if as_json:
        show(out, as_json=True)
        return
    console.print(f"{out['organisation']} joined {out['group']} as {out['role']} ({out['clearance']})",
                  highlight=False)  # fmt: skip
    if out.get("key"):
        console.print("its first API key (shown once; only its hash is stored):", highlight=False)
        console.print(out["key"], soft_wrap=True, highlight=False, markup=False)
    if out.get("pending_approval"):
        console.print("the new organisation awaits a platform admin's approval; its key works from then on",
                      highlight=False)  # fmt: skip


# ---------------------------------------------------------------- collections

COLLECTION_COLUMNS = ["alias", "id", "title", "kind", "owner", "recipients", "archived_at"]


def _list(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


@collection_app.command("list")
def collection_list(ctx: typer.Context, group: str, as_json: bool = JSON) -> None:
    """Every collection of a group you coordinate."""
    show(call(ctx, "GET", f"/groups/{group}/collections"), as_json=as_json, columns=COLLECTION_COLUMNS)


@collection_app.command("show")
def collection_show(ctx: typer.Context, group: str, collection: str, as_json: bool = JSON) -> None:
    """One collection, by alias or id."""
    show(call(ctx, "GET", f"/groups/{group}/collections/{collection}"), as_json=as_json)


@collection_app.command("create")
def collection_create(
    ctx: typer.Context,
    group: str,
    alias: str,
    title: str | None = typer.Option(None),
    description: str = typer.Option(""),
    owner: str | None = typer.Option(None, help="named-recipient: the member that publishes into it"),
    recipients: str | None = typer.Option(None, help="named-recipient: members who read it, comma-separated"),
    as_json: bool = JSON,
) -> None:
    """Create a group collection, or with --owner a named-recipient one (the only place for TLP:RED)."""
    named = owner is not None or recipients is not None
    body = _given(alias=alias, title=title, description=description, kind="named" if named else "group",
                  owner=owner, recipients=_list(recipients))  # fmt: skip
    show(call(ctx, "POST", f"/groups/{group}/collections", body=body), as_json=as_json)


@collection_app.command("update")
def collection_update(
    ctx: typer.Context,
    group: str,
    collection: str,
    alias: str | None = typer.Option(None, help="a new alias"),
    title: str | None = typer.Option(None),
    description: str | None = typer.Option(None),
    recipients: str | None = typer.Option(None, help="the new recipients, comma-separated"),
    as_json: bool = JSON,
) -> None:
    """Rename a collection, or change its title, description or recipients."""
    body = _given(alias=alias, title=title, description=description, recipients=_list(recipients))
    show(call(ctx, "PATCH", f"/groups/{group}/collections/{collection}", body=body), as_json=as_json)


@collection_app.command("archive")
def collection_archive(ctx: typer.Context, group: str, collection: str, as_json: bool = JSON) -> None:
    """Archive a collection: still readable, no longer writable; nothing is deleted."""
    show(call(ctx, "POST", f"/groups/{group}/collections/{collection}/archive"), as_json=as_json)


# ---------------------------------------------------------------- audit log and statistics

AUDIT_COLUMNS = ["id", "at", "action", "organisation", "group", "collection_id", "target", "before", "after"]


def _audit_params(group: str | None, org: str | None, action: str | None, since: str | None,
                  until: str | None) -> dict[str, Any]:  # fmt: skip
    return {"group": group, "organisation": org, "action": action, "since": since, "until": until}


GROUP_OPT = typer.Option(None, "--group", help="only this trust group's events")
ORG_OPT = typer.Option(None, "--org", help="only events by or about this organisation")
ACTION_OPT = typer.Option(None, "--action", help="only this action, e.g. membership.update")
SINCE_OPT = typer.Option(None, "--since", help="events at or after this time (ISO 8601)")
UNTIL_OPT = typer.Option(None, "--until", help="events before this time (ISO 8601)")


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    group: str | None = GROUP_OPT,
    org: str | None = ORG_OPT,
    action: str | None = ACTION_OPT,
    since: str | None = SINCE_OPT,
    until: str | None = UNTIL_OPT,
    limit: int = typer.Option(50, help="events per page (at most 1000)"),
    cursor: str | None = typer.Option(None, help="the `next` cursor a previous page printed"),
    as_json: bool = JSON,
) -> None:
    """One page of the audit log, newest first: who did what, where, before and after."""
    params = {**_audit_params(group, org, action, since, until), "limit": limit, "cursor": cursor}
    page = call(ctx, "GET", "/audit", params=params)
    if as_json:
        show(page, as_json=True)
        return
    show(page["events"], as_json=False, columns=AUDIT_COLUMNS)
    if page.get("next"):
        console.print(f"older events: --cursor {page['next']}", highlight=False)


@audit_app.command("export")
def audit_export(
    ctx: typer.Context,
    group: str | None = GROUP_OPT,
    org: str | None = ORG_OPT,
    action: str | None = ACTION_OPT,
    since: str | None = SINCE_OPT,
    until: str | None = UNTIL_OPT,
    output: Path | None = typer.Option(None, "--output", "-o", help="write here instead of stdout"),
) -> None:
    """Every matching audit event as JSON lines, newest first."""
    text = call(ctx, "GET", "/audit/export", params=_audit_params(group, org, action, since, until)) or ""
    if output:
        output.write_text(text)
        console.print(f"wrote {len(text.splitlines())} events to {output}", highlight=False)
    else:
        typer.echo(ascii_lines(text), nl=False)


@app.command("stats")
def stats(
    ctx: typer.Context,
    group: str,
    days: int = typer.Option(30, help="how many days of objects per day"),
    as_json: bool = JSON,
) -> None:
    """A group's statistics: objects by TLP and type, per day, last push per member, feed health."""
    out = call(ctx, "GET", f"/groups/{group}/stats", params={"days": days})
    if as_json:
        show(out, as_json=True)
        return
    console.print(
        f"[bold]{escape(out['group'])}[/]: {out['total']} object versions you may read",
        highlight=False,
        markup=True,
    )
    for title, key in (("by TLP", "by_tlp"), ("by type", "by_type"), ("per day", "per_day")):
        rows = [{title: k, "count": v} for k, v in out[key].items()]
        if rows:
            show(rows, as_json=False, columns=[title, "count"])
    show([{"member": k, "last push": v} for k, v in out["last_push"].items()], as_json=False,
         columns=["member", "last push"])  # fmt: skip
    if out["feeds"]:
        columns = ["name", "direction", "enabled", "state", "failures", "last_run", "last_error"]
        show(out["feeds"], as_json=False, columns=columns)


# ---------------------------------------------------------------- feeds

feed_app = typer.Typer(
    help="A group's feeds (remote): list, show, add, update, enable, disable, run, runs.",
    no_args_is_help=True,
)
app.add_typer(feed_app, name="feed")
FEED_COLUMNS = ["name", "format", "url", "collection", "tlp", "interval_s", "enabled", "next_run_at",
                "failures", "last_error"]  # fmt: skip
RUN_COLUMNS = ["started_at", "status", "read", "created", "new_versions", "unchanged", "rejected", "refused",
               "sent", "cursor_after", "error"]  # fmt: skip


@feed_app.command("list")
def feed_list(ctx: typer.Context, group: str, as_json: bool = JSON) -> None:
    """The feeds of a group you coordinate, with their run state."""
    show(call(ctx, "GET", f"/groups/{group}/feeds"), as_json=as_json, columns=FEED_COLUMNS)


@feed_app.command("show")
def feed_show(ctx: typer.Context, group: str, name: str, as_json: bool = JSON) -> None:
    """One feed."""
    show(call(ctx, "GET", f"/groups/{group}/feeds/{name}"), as_json=as_json)


@feed_app.command("add")
def feed_add(
    ctx: typer.Context,
    group: str,
    name: str,
    url: str = typer.Option(..., help="where to pull from (http or https)"),
    fmt: str = typer.Option(..., "--format", help="stix, misp, misp-feed, csv, text, intelmq, taxii, ..."),
    collection: str = typer.Option(..., help="the collection (alias or id) it fills"),
    publish_as: str = typer.Option(..., help="the organisation its objects are published as (yours)"),
    tlp: str = typer.Option("amber", help="TLP of records whose source gives none"),
    interval: str = typer.Option("1h", help="seconds, or a number with s, m, h or d"),
    as_json: bool = JSON,
) -> None:
    """Declare a pull feed of the group (validated as `hub sync load` validates a feeds file)."""
    body = {"name": name, "url": url, "format": fmt, "collection": collection, "publish_as": publish_as,
            "tlp": tlp, "interval": interval}  # fmt: skip
    show(call(ctx, "POST", f"/groups/{group}/feeds", body=body), as_json=as_json)


@feed_app.command("update")
def feed_update(
    ctx: typer.Context,
    group: str,
    name: str,
    url: str | None = typer.Option(None),
    fmt: str | None = typer.Option(None, "--format"),
    collection: str | None = typer.Option(None),
    tlp: str | None = typer.Option(None),
    interval: str | None = typer.Option(None),
    two_way: bool | None = typer.Option(
        None,
        "--two-way/--no-two-way",
        help="a TAXII pull from another hub: post the feedback on what it brought in back to it "
        "(a platform admin's; see docs/feedback.md)",
    ),
    as_json: bool = JSON,
) -> None:
    """Change a feed; a new source, format or collection resets its cursor."""
    body = _given(url=url, format=fmt, collection=collection, tlp=tlp, interval=interval, two_way=two_way)
    show(call(ctx, "PATCH", f"/groups/{group}/feeds/{name}", body=body), as_json=as_json)


@feed_app.command("enable")
def feed_enable(ctx: typer.Context, group: str, name: str, as_json: bool = JSON) -> None:
    """Enable a feed."""
    show(call(ctx, "POST", f"/groups/{group}/feeds/{name}/enable"), as_json=as_json)


@feed_app.command("disable")
def feed_disable(ctx: typer.Context, group: str, name: str, as_json: bool = JSON) -> None:
    """Disable a feed (its cursor and history stay)."""
    show(call(ctx, "POST", f"/groups/{group}/feeds/{name}/disable"), as_json=as_json)


@feed_app.command("run")
def feed_run(
    ctx: typer.Context,
    group: str,
    name: str,
    wait: bool = typer.Option(
        True, "--wait/--no-wait", help="wait for a sync worker to run it, print the run"
    ),
    timeout: float = typer.Option(120.0, help="how many seconds to wait for the run"),
    as_json: bool = JSON,
) -> None:
    """Run a feed now: it becomes due at once and the next free sync worker runs it (`hub demo` runs one;
    elsewhere `hub sync worker`). Waits for the run and prints it (exit 1 when it failed); `--no-wait`
    prints the feed at once instead."""
    import time

    runs = f"/groups/{group}/feeds/{name}/runs"
    before = call(ctx, "GET", runs, params={"limit": 1}) if wait else []
    last = before[0]["id"] if before else None
    feed = call(ctx, "POST", f"/groups/{group}/feeds/{name}/run")
    if not wait:
        show(feed, as_json=as_json)
        return
    deadline = time.monotonic() + timeout
    while True:
        newest = call(ctx, "GET", runs, params={"limit": 1})
        if newest and newest[0]["id"] != last:
            show(newest, as_json=as_json, columns=RUN_COLUMNS)
            if newest[0]["status"] != "ok":
                raise typer.Exit(1)
            return
        if time.monotonic() >= deadline:
            _fail(
                f"the feed is due, but no sync worker ran it within {timeout:g} s: is `hub sync worker` "
                f"running? (`hub feed runs {group} {name}` shows the run once it ran)"
            )
        time.sleep(1.0)


@feed_app.command("runs")
def feed_runs(
    ctx: typer.Context, group: str, name: str, limit: int = typer.Option(20), as_json: bool = JSON
) -> None:
    """A feed's run history, newest first."""
    rows = call(ctx, "GET", f"/groups/{group}/feeds/{name}/runs", params={"limit": limit})
    show(rows, as_json=as_json, columns=RUN_COLUMNS)
