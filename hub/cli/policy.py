"""`hub policy`: the TLP policy layer explained."""

from __future__ import annotations

import typer
from rich.markup import escape
from sqlalchemy import select

from hub.cli.app import app
from hub.cli.common import _fail, _sessions, _settings, console

policy_app = typer.Typer(help="The TLP policy layer.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("explain")
def policy_explain(
    object_id: str = typer.Option(..., "--object", help="the STIX id of a stored object"),
    reader: str | None = typer.Option(None, "--reader", help="may this organisation (slug) see it?"),
    to: str | None = typer.Option(None, "--to", help="may it flow to this trust group?"),
    peer: str | None = typer.Option(
        None, "--peer-community", help="may it go to a peer hub of this community?"
    ),
    export: bool = typer.Option(False, "--export", help="may it be exported?"),
    group: str | None = typer.Option(None, "--group", help="only the copies stored in this trust group"),
) -> None:
    """Say whether an organisation may see, or a destination receive, a stored object, and why."""
    from hub.trust.explain import ExplainError, explain
    from hub.trust.models import TrustGroup

    sm = _sessions(_settings().database_url)
    with sm() as session:
        within = None
        if group:
            gid = session.scalar(select(TrustGroup.id).where(TrustGroup.slug == group))
            if gid is None:
                _fail(f"no trust group {group!r}")
            within = {gid}
        try:
            answers = explain(
                session,
                object_id=object_id,
                reader=reader,
                to_group=to,
                to_peer_community=peer,
                export=export,
                within_groups=within,
            )
        except ExplainError as exc:
            _fail(str(exc))
    for a in answers:
        console.print(
            f"[bold]{escape(a.group)}/{escape(a.collection)}[/] (version {a.version})",
            highlight=False,
            markup=True,
        )
        console.print(a.text, soft_wrap=True, highlight=False, markup=False)
