"""The web console (/console/): sign-in, coordinators' pages and members' pages, as server-rendered HTML.

Thin, like the admin API: each handler checks the session and the form's CSRF token, calls the same
trust, sync and report services inside one transaction, and renders a template after it committed.
Every form works as a plain POST answered by a redirect (or a page); htmx only enhances. Errors of the
services are rendered as HTML error pages with the same status and wording as the admin API's.

The file is long because it is the console's whole page map, one short handler per page or form;
splitting it by page would scatter the shared functions it opens with.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.console import accounts, charts, i18n, signin
from hub.console import feedback as feedback_pages
from hub.console import lookup as lookup_pages
from hub.console.i18n import N_
from hub.console.web import (
    HERE,
    PRE_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    ConsoleHeaders,
    Me,
    SignInRequired,
    check_origin,
    clear_cookie,
    console_key,
    language_of,
    me_or_none,
    pre_token,
    redirect,
    render,
    set_cookie,
    sign_token,
    signed_in,
    static_version,
    templates,
)
from hub.db import begin_write
from hub.errors import Conflict, Forbidden, NotFound, Unprocessable
from hub.policy.rules import Reader
from hub.policy.tlp import Tlp
from hub.policy.words import Phrase
from hub.sync import group_feeds as feeds
from hub.trust import benign, collections, invitations, keys, manage, reports
from hub.trust.explain import ExplainError, explain
from hub.trust.models import Collection, Organisation, TrustGroup
from hub.web.deps import db_session

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Db = Depends(db_session)
Who = Depends(signed_in)

DONE = {
    "password": N_("Your password was changed; other browsers were signed out."),
    "totp-on": N_("Two-step verification is on: sign-in now asks for a code."),
    "totp-off": N_("Two-step verification is off."),
    "signed-out-everywhere": N_("Every other session of your account was signed out."),
    "member-added": N_("The member was added."),
    "member-changed": N_("The member was changed."),
    "member-removed": N_("The member was removed."),
    "invitation-revoked": N_("The invitation was withdrawn."),
    "key-revoked": N_("The key was revoked; requests made with it are refused from now on."),
    "feed-run": N_("The feed is due now: the next free sync worker runs it."),
    "collection-created": N_("The collection was created."),
    "collection-changed": N_("The recipients were changed."),
    "collection-archived": N_("The collection was archived: readable as before, no longer writable."),
    "benign-added": N_("The value was added to the group's known-benign list."),
    "benign-removed": N_("The value was taken off the group's known-benign list."),
    "benign-settings": N_("The group's device-list settings were saved."),
    "language": N_("The console's language was saved."),
}


def install(app: FastAPI) -> None:
    """Mount the console on an app: its pages, static files, headers and sign-in redirect."""
    app.state.console_limits = signin.SignInLimits()
    templates.globals["STATIC_VERSION"] = static_version()
    app.include_router(router)
    app.include_router(lookup_pages.router)
    app.include_router(feedback_pages.router)
    from hub.console import inside  # it builds on this module's form helpers

    app.include_router(inside.router)
    app.mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_middleware(ConsoleHeaders)

    app.add_api_route("/", hub_root, methods=["GET", "HEAD"], include_in_schema=False)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        return redirect(f"{PREFIX}/sign-in?next={exc.next_path}")


def hub_root(request: Request) -> Response:
    """The hub's own root: a browser is sent to the console; a TAXII client is told where discovery is."""
    if "taxii" in request.headers.get("accept", "").lower():
        raise NotFound("This is a TAXII 2.1 hub: its discovery resource is /taxii2/.")
    return redirect(PREFIX + "/")


@contextmanager
def _write(session: Session) -> Iterator[None]:
    try:
        with session.begin():
            begin_write(session)
            yield
    except IntegrityError:
        raise Conflict(N_("The change clashes with a change made at the same moment; retry.")) from None


async def posted(request: Request) -> dict[str, str]:
    """The submitted form's text fields (read in the event loop; handlers then run in a thread)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


Form = Depends(posted)


def _checked(request: Request, me: Me, form: dict[str, str]) -> dict[str, str]:
    """The form, once its Origin and CSRF token are right (403 otherwise)."""
    import hmac

    check_origin(request)
    sent = request.headers.get("x-csrf-token") or form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent, me.csrf):
        raise Forbidden(N_("The form's security token is missing or out of date; reload the page and retry."))
    return form


def _confirmed(
    request: Request,
    me: Me,
    form: dict[str, str],
    *,
    title: str,
    question: str,
    button: str,
    back: str,
    group: TrustGroup | None = None,
    fields: dict[str, str] | None = None,
) -> Response | None:
    """None when a destructive form carries `confirm=yes`; else the page that asks, whose form posts the
    same fields again with it. The question is a plain form, so it works without JavaScript."""
    if form.get("confirm") == "yes":
        return None
    return render(
        request, "confirm.html", me, title=title, question=question, button=button, back=back,
        action=request.url.path, group=group, fields=fields or {},
    )  # fmt: skip


def _done(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _safe_next(value: str | None) -> str:
    # only a console path: never an absolute URL or a scheme-relative one
    if value and value.startswith(PREFIX + "/") and "//" not in value and "\\" not in value:
        return value
    return PREFIX + "/"


# ---------------------------------------------------------------- sign-in, sign-out, account


@router.get("/", response_class=HTMLResponse)
def home(request: Request, me: Me = Who) -> Response:
    """The console's start page: the caller's groups and what it may do there."""
    return render(request, "home.html", me, done=_done(request))


@router.get("", include_in_schema=False)
def home_slash() -> Response:
    """/console -> /console/."""
    return redirect(PREFIX + "/")


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(
    request: Request, me: Me | None = Depends(me_or_none), key: bytes = Depends(console_key)
) -> Response:
    """The sign-in form."""
    if me is not None:
        return redirect(_safe_next(request.query_params.get("next")))
    return _sign_in_form(request, key)


def _sign_in_form(
    request: Request, key: bytes, *, error: str = "", status: int = 200, user: str = ""
) -> Response:
    token, fresh = pre_token(request, key)
    response = render(
        request,
        "sign_in.html",
        None,
        status=status,
        pre_csrf=token,
        error=error,
        user=user,
        next=_safe_next(request.query_params.get("next")),
    )
    if fresh:
        set_cookie(request, response, PRE_COOKIE, fresh, max_age=86_400)
    return response


def _pre_checked(request: Request, key: bytes, form: dict[str, str]) -> None:
    import hmac

    check_origin(request)
    expected, fresh = pre_token(request, key)
    if fresh is not None or not hmac.compare_digest(form.get("csrf", ""), expected):
        raise Forbidden(N_("The form's security token is missing or out of date; reload the page and retry."))


# one answer for every failure (unknown name, wrong password, wrong or replayed code), after the same work
# (one argon2 verification and one audit event), so no failure tells which part was wrong
WRONG = N_("The name, password or code is wrong.")


def _too_many(request: Request, key: bytes, wait: int, user: str) -> Response:
    return _sign_in_form(
        request,
        key,
        error=Phrase(
            "Too many failed sign-ins for this account or address. Wait {seconds} seconds and try again.",
            seconds=wait,
        ),
        status=429,
        user=user,
    )


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request, form: dict[str, str] = Form, session: Session = Db, key: bytes = Depends(console_key)
) -> Response:
    """Check a name, password and code; open a session. Failures are throttled without letting strangers
    lock an account's owner out (hub.console.signin)."""
    _pre_checked(request, key, form)
    user = form.get("user", "").strip()[:200]
    code = form.get("code", "")
    address = _address(request)
    limits: signin.SignInLimits = request.app.state.console_limits
    device = signin.device_known(key, request.cookies.get(signin.DEVICE_COOKIE), user)
    gate = limits.gate(user=user, address=address, device=device, code=code)
    if gate.wait is not None and not gate.checked:
        return _too_many(request, key, gate.wait, user)
    with session.begin():
        check = accounts.check_sign_in(session, user=user, password=form.get("password", ""), code=code)
    account = check.account
    if account is not None and not gate.open and check.totp_step is None:
        account = None  # past a limit only a right password *and* a right code pass
    token = ""
    if account is not None:
        with _write(session):
            replayed = check.totp_step is not None and not accounts.claim_totp_step(
                session, account_id=account.id, step=check.totp_step
            )
            if not replayed:
                token = accounts.create_session(session, account=account, address=address)
    if not token:
        limits.failed(user=user, address=address, device=device, gate=gate)
        with _write(session):
            from hub.store.audit import record

            record(
                session,
                action="console.sign-in-failed",
                organisation_id=check.org.id if check.org is not None else None,
                detail=f"console sign-in failed for {user[:100]!r} from {address or 'an unknown address'}",
            )
        if gate.wait is not None:
            return _too_many(request, key, gate.wait, user)
        return _sign_in_form(request, key, error=WRONG, status=401, user=user)
    response = redirect(_safe_next(form.get("next")))
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        sign_token(key, token),
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
    )
    # this browser is now known for this account: strangers' failures no longer count against it
    device_value = signin.device_cookie(key, user)
    set_cookie(request, response, signin.DEVICE_COOKIE, device_value, max_age=signin.DEVICE_LIFETIME)
    clear_cookie(request, response, PRE_COOKIE)
    return response


@router.post("/sign-out")
def sign_out(request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db) -> Response:
    """End this browser's session."""
    _checked(request, me, form)
    with _write(session):
        accounts.end_session(session, token_digest=me.who.token_digest)
    response = redirect(PREFIX + "/sign-in")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


@router.post("/sign-out-everywhere")
def sign_out_everywhere(
    request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """End every session of the account, this one included."""
    _checked(request, me, form)
    with _write(session):
        accounts.end_all_sessions(session, account_id=me.who.account_id)
    response = redirect(PREFIX + "/sign-in")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, me: Me = Who, session: Session = Db) -> Response:
    """The account: password, two-step verification and open sessions."""
    with session.begin():
        totp = accounts.has_totp(session, account_id=me.who.account_id)
        live = accounts.list_sessions(session, account_id=me.who.account_id)
    return render(request, "account.html", me, totp=totp, sessions=live, done=_done(request))


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    form: dict[str, str] = Form,
    me: Me = Who,
    session: Session = Db,
    key: bytes = Depends(console_key),
) -> Response:
    """Change the console password (the current one confirms it); every session ends, a new one opens."""
    _checked(request, me, form)
    new = form.get("new_password", "")
    with session.begin():
        right = accounts.verify_password(
            session, account_id=me.who.account_id, password=form.get("password", "")
        )
    if not right:
        raise Forbidden(N_("The current password is wrong."))
    if new != form.get("confirm", ""):
        raise Unprocessable(N_("The new password and its confirmation differ."))
    with _write(session):
        from hub.trust.models import Account

        acct = session.get(Account, me.who.account_id)
        assert acct is not None  # noqa: S101 - the session's foreign key guarantees it
        accounts.set_password(session, account=acct, password=new)
        token = accounts.create_session(session, account=acct, address=_address(request))
    response = redirect(PREFIX + "/account", done="password")
    set_cookie(
        request, response, SESSION_COOKIE, sign_token(key, token),
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
    )  # fmt: skip
    return response


@router.post("/account/totp", response_class=HTMLResponse)
def totp_begin(
    request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Start two-step verification: show the secret and otpauth URI, ask for a first code."""
    _checked(request, me, form)
    with _write(session):
        acct, org = _account(session, me)
        secret, uri = accounts.begin_totp(session, account=acct, org=org)
    return render(request, "totp.html", me, secret=secret, uri=uri, error="")


@router.post("/account/totp/confirm", response_class=HTMLResponse)
def totp_confirm(
    request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Confirm enrolment with a code from the authenticator."""
    _checked(request, me, form)
    with _write(session):
        acct, org = _account(session, me)
        ok = accounts.confirm_totp(session, account=acct, code=form.get("code", ""))
        secret, uri = ("", "") if ok else accounts.begin_totp(session, account=acct, org=org)
    if ok:
        return redirect(PREFIX + "/account", done="totp-on")
    return render(
        request, "totp.html", me, status=422, secret=secret, uri=uri,
        error=N_("That code is not right; check the device's clock and try the current code."),
    )  # fmt: skip


@router.post("/account/totp/disable")
def totp_disable(
    request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Turn two-step verification off (the password confirms it)."""
    _checked(request, me, form)
    with _write(session):
        if not accounts.verify_password(
            session, account_id=me.who.account_id, password=form.get("password", "")
        ):
            raise Forbidden(N_("The current password is wrong."))
        acct, _org = _account(session, me)
        accounts.disable_totp(session, account=acct)
    return redirect(PREFIX + "/account", done="totp-off")


@router.post("/account/language")
def set_language(
    request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Choose the console's language for this account (empty: the browser's)."""
    _checked(request, me, form)
    with _write(session):
        accounts.set_language(
            session, account_id=me.who.account_id, language=form.get("language", "").strip()[:8] or None
        )
    return redirect(PREFIX + "/account", done="language")


def _account(session: Session, me: Me) -> tuple[Any, Organisation]:
    from hub.trust.models import Account

    acct = session.get(Account, me.who.account_id)
    org = session.get(Organisation, me.who.org_id)
    assert acct is not None and org is not None  # noqa: S101 - resolved in this request
    return acct, org


# ---------------------------------------------------------------- invitations redeemed


@router.get("/redeem", response_class=HTMLResponse)
def redeem_page(
    request: Request, me: Me | None = Depends(me_or_none), key: bytes = Depends(console_key)
) -> Response:
    """Redeem an invitation: a new organisation chooses its first account and password."""
    token, fresh = pre_token(request, key)
    response = render(request, "redeem.html", me, pre_csrf=token, token=request.query_params.get("token", ""))
    if fresh:
        set_cookie(request, response, PRE_COOKIE, fresh, max_age=86_400)
    return response


@router.post("/redeem", response_class=HTMLResponse)
def redeem(
    request: Request,
    form: dict[str, str] = Form,
    me: Me | None = Depends(me_or_none),
    session: Session = Db,
    key: bytes = Depends(console_key),
) -> Response:
    """Redeem an invitation token, as the signed-in organisation or as a new one."""
    if me is not None:
        _checked(request, me, form)
    else:
        _pre_checked(request, key, form)
    name = form.get("account", "").strip()[:128] or "console"
    password = form.get("password", "")
    if me is None:
        accounts.check_password_rules(password)
        if password != form.get("confirm", ""):
            raise Unprocessable(N_("The password and its confirmation differ."))
    with _write(session):
        done = invitations.redeem_invitation(
            session,
            form.get("token", "").strip()[:200],
            caller=me.who.principal if me is not None else None,
            account=name,
            key_label="first key",
            self_service=request.app.state.settings.invitations_self_service,
        )
        if me is None and done.account is not None:
            from hub.trust.models import Account

            acct = session.scalar(
                select(Account)
                .join(Organisation, Account.organisation_id == Organisation.id)
                .where(Organisation.slug == done.organisation, Account.name == done.account)
            )
            assert acct is not None  # noqa: S101 - redeeming just made it
            accounts.set_password(session, account=acct, password=password)
    # not `done`: base.html shows `done` as the page's notice, which printed this object's repr, key and all
    return render(request, "redeemed.html", me, redemption=done, user=f"{done.account}@{done.organisation}")


# ---------------------------------------------------------------- API keys


@router.get("/keys", response_class=HTMLResponse)
def keys_page(request: Request, me: Me = Who, session: Session = Db) -> Response:
    """The organisation's API keys (never their secrets)."""
    with session.begin():
        rows = keys.list_keys(session, me.who.principal, me.who.org_slug)
    return render(request, "keys.html", me, keys=rows, issued=None, done=_done(request))


@router.post("/keys", response_class=HTMLResponse)
def issue_key(request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db) -> Response:
    """Issue a key; its secret is on this page only."""
    _checked(request, me, form)
    days = form.get("expires_days", "").strip()
    expires = None
    if days:
        if not (days.isascii() and days.isdigit()) or not 1 <= int(days) <= 3650:
            raise Unprocessable(N_("expires in days is a whole number from 1 to 3650, or empty for never."))
        expires = datetime.now(UTC) + timedelta(days=int(days))
    # the form's checkboxes (scope_<name>); a form without them (an older page, a script) asks for all four
    scopes = [n for n in ("download", "manage", "read", "write") if form.get(f"scope_{n}")]
    with _write(session):
        info, secret = keys.issue_key(
            session, me.who.principal, me.who.org_slug,
            account=form.get("account", "").strip()[:128] or "taxii",
            label=form.get("label", "").strip()[:128], expires_at=expires,
            scopes=scopes if form.get("scopes_given") else None,
        )  # fmt: skip
        rows = keys.list_keys(session, me.who.principal, me.who.org_slug)
    return render(request, "keys.html", me, status=201, keys=rows, issued=(info, secret), done=None)


@router.post("/keys/{key_id}/rotate", response_class=HTMLResponse)
def rotate_key(
    key_id: str, request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Replace a key; the old one keeps working for a day."""
    _checked(request, me, form)
    with _write(session):
        new, secret, _old = keys.rotate_key(session, me.who.principal, me.who.org_slug, key_id[:40])
        rows = keys.list_keys(session, me.who.principal, me.who.org_slug)
    return render(request, "keys.html", me, keys=rows, issued=(new, secret), done=None, rotated=True)


@router.post("/keys/{key_id}/revoke")
def revoke_key(
    key_id: str, request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Revoke a key at once (after a confirmation)."""
    _checked(request, me, form)
    with session.begin():
        keys.get_key(session, me.who.principal, me.who.org_slug, key_id[:40])  # 404 before asking
    ask = _confirmed(
        request, me, form, title=Phrase("Revoke key {key}?", key=key_id[:40]),
        button=Phrase("Revoke key {key}", key=key_id[:40]),
        question=N_("Every request made with it is refused from the moment it is revoked."),
        back=PREFIX + "/keys",
    )  # fmt: skip
    if ask is not None:
        return ask
    with _write(session):
        keys.revoke_key(session, me.who.principal, me.who.org_slug, key_id[:40])
    return redirect(PREFIX + "/keys", done="key-revoked")


# ---------------------------------------------------------------- a group: dashboard


def _group(session: Session, me: Me, slug: str) -> TrustGroup:
    return manage.find_group(session, me.who.principal, slug[:64])


@router.get("/groups/{group}/", response_class=HTMLResponse)
def dashboard(group: str, request: Request, me: Me = Who, session: Session = Db) -> Response:
    """A group's dashboard: objects per day, by TLP and by type, last push per member, feeds, refusals."""
    days = 30
    with session.begin():
        g = _group(session, me, group)
        stats = reports.group_stats(session, me.who.principal, g.slug, days=days)
        refusals, _ = reports.audit_page(
            session, me.who.principal, reports.AuditQuery(group=g.slug, action="push-refused"), limit=10
        )
        names = _names(session, refusals)
    tlp_order = [t for t in (manage.tlp_name(x) for x in Tlp) if t in stats.by_tlp]
    by_tlp = {t: stats.by_tlp[t] for t in tlp_order}
    day_order = [
        t for t in (manage.tlp_name(x) for x in Tlp) if any(t in c for c in stats.per_day_by_tlp.values())
    ]
    today = datetime.now(UTC).date()
    with i18n.speaking(language_of(request, me)):  # the charts' words, in the page's language
        label = i18n.gettext(
            "objects added per day by TLP, last %(days)s days; the table below gives the numbers"
        ) % {"days": days}
        chart = {
            "day": charts.stacked_per_day(
                stats.per_day_by_tlp, order=day_order, days=days, today=today, label=label
            ),
            "day_legend": charts.tlp_legend(day_order),
            "tlp": charts.bars(by_tlp, label=i18n.gettext("objects by TLP"), tlp=True),
            "type": charts.bars(stats.by_type, label=i18n.gettext("objects by type")),
        }  # fmt: skip
    return render(
        request, "dashboard.html", me, group=g, stats=stats, by_tlp=by_tlp, chart=chart, days=days,
        day_order=day_order,
        refusals=refusals, names=names, dt=i18n.when,
    )  # fmt: skip


def _names(session: Session, events: list[reports.AuditEntry]) -> dict[int, str]:
    ids = {i for e in events for i in (e.organisation_id, e.target_org_id) if i}
    if not ids:
        return {}
    return dict(
        session.execute(select(Organisation.id, Organisation.slug).where(Organisation.id.in_(ids))).all()
    )


# ---------------------------------------------------------------- members


@router.get("/groups/{group}/members", response_class=HTMLResponse)
def members_page(group: str, request: Request, me: Me = Who, session: Session = Db) -> Response:
    """A group's members with their roles and clearances."""
    return _members(request, me, session, group, done=_done(request))


def _members(
    request: Request, me: Me, session: Session, group: str, *, done: str | None = None, error: str = "",
    status: int = 200,
) -> Response:  # fmt: skip
    """The members page, read afresh (after a refused change it shows the stored values again)."""
    with session.begin():
        g = _group(session, me, group)
        rows = manage.list_members(session, me.who.principal, g.slug)
        locked = manage.member_locks(session, me.who.principal, g.slug, rows)
    return render(
        request, "members.html", me, status=status, group=g, members=rows, locked=locked, done=done,
        error=error,
    )  # fmt: skip


@router.post("/groups/{group}/members")
def add_member(
    group: str, request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Add an organisation the coordinator knows of (others are invited)."""
    _checked(request, me, form)
    with _write(session):
        manage.add_member(
            session, me.who.principal, group[:64],
            org_slug=form.get("organisation", "").strip()[:64],
            role=form.get("role", "reader"), clearance=form.get("clearance", "amber"),
        )  # fmt: skip
    return redirect(f"{PREFIX}/groups/{group}/members", done="member-added")


@router.post("/groups/{group}/members/{org}")
def change_member(
    group: str, org: str, request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Change a member's role or clearance; a refused change is shown on the members page, with the stored
    values back in the form."""
    _checked(request, me, form)
    changes = {k: form[k] for k in ("role", "clearance") if form.get(k)}
    try:
        with _write(session):
            manage.update_member(session, me.who.principal, group[:64], org[:64], **changes)
    except (Unprocessable, Forbidden, Conflict) as exc:
        session.rollback()
        return _members(
            request, me, session, group, error=exc.description or exc.title, status=exc.http_status
        )
    return redirect(f"{PREFIX}/groups/{group}/members", done="member-changed")


@router.post("/groups/{group}/members/{org}/remove")
def remove_member(
    group: str, org: str, request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Remove a member from the group (after a confirmation)."""
    _checked(request, me, form)
    with session.begin():
        g = _group(session, me, group)
        member = manage.get_member(session, me.who.principal, g.slug, org[:64])  # 404 before asking
        locked = manage.member_locks(session, me.who.principal, g.slug, [member])
        if locked:  # 403 before asking, as removing would answer
            raise Forbidden(next(iter(locked.values())))
    ask = _confirmed(
        request, me, form, title=Phrase("Remove {org}?", org=org[:64]), group=g,
        button=Phrase("Remove {org}", org=org[:64]),
        question=Phrase("'{org}' loses access to {group} at once; what it published stays.", org=org[:64],
                        group=g.name),
        back=f"{PREFIX}/groups/{g.slug}/members",
    )  # fmt: skip
    if ask is not None:
        return ask
    with _write(session):
        manage.remove_member(session, me.who.principal, group[:64], org[:64])
    return redirect(f"{PREFIX}/groups/{group}/members", done="member-removed")


# ---------------------------------------------------------------- invitations


@router.get("/groups/{group}/invitations", response_class=HTMLResponse)
def invitations_page(group: str, request: Request, me: Me = Who, session: Session = Db) -> Response:
    """A group's invitations, newest first (never their tokens)."""
    with session.begin():
        g = _group(session, me, group)
        rows = invitations.list_invitations(session, me.who.principal, g.slug)
    return render(
        request, "invitations.html", me, group=g, invitations=rows, token=None, done=_done(request),
        state=invitations.invitation_state,
    )  # fmt: skip


@router.post("/groups/{group}/invitations", response_class=HTMLResponse)
def create_invitation(
    group: str, request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Invite an organisation; the one-time token is on this page only."""
    _checked(request, me, form)
    hours = form.get("expires_in_hours", "168").strip() or "168"
    if not (hours.isascii() and hours.isdigit()) or not 1 <= int(hours) <= 720:
        raise Unprocessable(N_("expires in hours is a whole number from 1 to 720."))
    country = form.get("country", "").strip().upper() or None
    with _write(session):
        _inv, token = invitations.create_invitation(
            session, me.who.principal, group[:64],
            organisation=form.get("organisation", "").strip().lower()[:64],
            name=form.get("name", "").strip()[:255], country=country,
            role=form.get("role", "reader"), clearance=form.get("clearance", "amber"),
            expires_in=timedelta(hours=int(hours)),
        )  # fmt: skip
        g = _group(session, me, group)
        rows = invitations.list_invitations(session, me.who.principal, g.slug)
    return render(
        request, "invitations.html", me, status=201, group=g, invitations=rows, token=token, done=None,
        state=invitations.invitation_state,
    )  # fmt: skip


@router.post("/groups/{group}/invitations/{invitation}/revoke")
def revoke_invitation(
    group: str,
    invitation: str,
    request: Request,
    form: dict[str, str] = Form,
    me: Me = Who,
    session: Session = Db,
) -> Response:
    """Withdraw a pending invitation (after a confirmation)."""
    _checked(request, me, form)
    with session.begin():
        g = _group(session, me, group)
        if not any(
            i.token_id == invitation for i in invitations.list_invitations(session, me.who.principal, g.slug)
        ):
            raise NotFound(Phrase("'{group}' has no invitation '{id}'.", group=g.slug, id=invitation[:32]))
    ask = _confirmed(
        request, me, form, title=Phrase("Withdraw invitation {id}?", id=invitation[:40]), group=g,
        button=N_("Withdraw invitation"), question=N_("Its token can no longer be redeemed."),
        back=f"{PREFIX}/groups/{g.slug}/invitations",
    )  # fmt: skip
    if ask is not None:
        return ask
    with _write(session):
        invitations.revoke_invitation(session, me.who.principal, group[:64], invitation[:40])
    return redirect(f"{PREFIX}/groups/{group}/invitations", done="invitation-revoked")


# ---------------------------------------------------------------- collections


@router.get("/groups/{group}/collections", response_class=HTMLResponse)
def collections_page(group: str, request: Request, me: Me = Who, session: Session = Db) -> Response:
    """A group's collections and the recipients of its named-recipient ones; for a member that does not
    coordinate the group, the named-recipient collections it owns and every change made to them."""
    p = me.who.principal
    changes: list[dict[str, Any]] = []
    with session.begin():
        g = manage.find_group(session, p, group[:64], manage=False)
        coordinator = p.is_admin or p.memberships[g.id].role == "coordinator"
        if coordinator:
            rows = collections.list_group_collections(session, p, g.slug)
        else:
            rows = collections.owned_collections(session, p, g.slug)
            if not rows:
                _group(session, me, group)  # the coordinators' page: 403 to a member that owns nothing here
            owned = {c.collection.id for c in rows}
            request.app.state.audit.flush(timeout=5.0)
            events, _ = reports.audit_page(session, p, reports.AuditQuery(), limit=200)
            mine = [e for e in events if e.action.startswith("collection.") and e.collection_id in owned]
            names = _names(session, mine)
            changes = [
                {"when": e.at_us, "who": names.get(e.organisation_id or 0, N_("the hub")),
                 "what": f"{e.action} {e.target or ''}", "before": _recipients_of(e.before),
                 "after": _recipients_of(e.after)}
                for e in mine
            ]  # fmt: skip
    return render(request, "collections.html", me, group=g, collections=rows, done=_done(request),
                  coordinator=coordinator, changes=changes)  # fmt: skip


def _recipients_of(state: str | None) -> str:
    """The recipients in an audit event's collection state, as the page prints them."""
    if not state:
        return ""
    recipients = orjson.loads(state).get("recipients") or []
    return ", ".join(str(r) for r in recipients) or N_("nobody")


def _slugs(text: str) -> list[str]:
    return [s.strip().lower()[:64] for s in text.replace(",", " ").split() if s.strip()][:1000]


@router.post("/groups/{group}/collections")
def create_collection(
    group: str, request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Create a group collection, or a named-recipient one (owner and recipients: members)."""
    _checked(request, me, form)
    kind = form.get("kind", "group")
    with _write(session):
        collections.create_collection(
            session, me.who.principal, group[:64],
            alias=form.get("alias", "").strip()[:64], title=form.get("title", "").strip()[:255] or None,
            description=form.get("description", "")[:10_000], kind=kind,
            owner=(form.get("owner", "").strip()[:64] or None) if kind == "named" else None,
            recipients=_slugs(form.get("recipients", "")) if kind == "named" else None,
        )  # fmt: skip
    return redirect(f"{PREFIX}/groups/{group}/collections", done="collection-created")


@router.post("/groups/{group}/collections/{collection}/recipients")
def change_recipients(
    group: str, collection: str, request: Request, form: dict[str, str] = Form, me: Me = Who,
    session: Session = Db,
) -> Response:  # fmt: skip
    """Replace the recipients of a named-recipient collection."""
    _checked(request, me, form)
    with _write(session):
        collections.update_collection(
            session,
            me.who.principal,
            group[:64],
            collection[:64],
            recipients=_slugs(form.get("recipients", "")),
        )
    return redirect(f"{PREFIX}/groups/{group}/collections", done="collection-changed")


@router.post("/groups/{group}/collections/{collection}/archive")
def archive_collection(
    group: str, collection: str, request: Request, form: dict[str, str] = Form, me: Me = Who,
    session: Session = Db,
) -> Response:  # fmt: skip
    """Archive a collection: readable as before, no longer writable (after a confirmation)."""
    _checked(request, me, form)
    with session.begin():
        g = _group(session, me, group)
        collections.get_collection(session, me.who.principal, g.slug, collection[:64])  # 404 before asking
    ask = _confirmed(
        request, me, form, title=Phrase("Archive {collection}?", collection=collection[:64]), group=g,
        button=Phrase("Archive {collection}", collection=collection[:64]),
        question=N_("It stays readable as before; nothing more can be written to it."),
        back=f"{PREFIX}/groups/{g.slug}/collections",
    )  # fmt: skip
    if ask is not None:
        return ask
    with _write(session):
        collections.archive_collection(session, me.who.principal, group[:64], collection[:64])
    return redirect(f"{PREFIX}/groups/{group}/collections", done="collection-archived")


# ---------------------------------------------------------------- feeds


@router.get("/groups/{group}/feeds", response_class=HTMLResponse)
def feeds_page(group: str, request: Request, me: Me = Who, session: Session = Db) -> Response:
    """A group's feeds: state, last runs and errors."""
    with session.begin():
        g = _group(session, me, group)
        rows = feeds.list_feeds(session, me.who.principal, g.slug)
        runs = {f.name: feeds.feed_runs(session, me.who.principal, g.slug, f.name, limit=5) for f in rows}
        shown = reports.feed_counts_shown(session, me.who.principal, rows)  # errors carry counts
    return render(
        request,
        "feeds.html",
        me,
        group=g,
        feeds=rows,
        runs=runs,
        shown=shown,
        dt=i18n.when,
        done=_done(request),
    )


@router.post("/groups/{group}/feeds/{feed}/run")
def run_feed(
    group: str, feed: str, request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Make a feed due now."""
    _checked(request, me, form)
    with _write(session):
        feeds.run_now(session, me.who.principal, group[:64], feed[:128])
    return redirect(f"{PREFIX}/groups/{group}/feeds", done="feed-run")


# ---------------------------------------------------------------- known-benign list and device-list settings


@router.get("/groups/{group}/benign", response_class=HTMLResponse)
def benign_page(group: str, request: Request, me: Me = Who, session: Session = Db) -> Response:
    """The group's own known-benign list and its device-list settings (its coordinators only)."""
    with session.begin():
        g, entries = benign.list_entries(session, me.who.principal, group[:64])
        limits = benign.limits_of(g)
    return render(
        request, "benign.html", me, group=g, entries=entries, limits=limits,
        list_name=benign.own_list_name(g), floors=(benign.FLOOR_V4, benign.FLOOR_V6),
        dt=i18n.when, done=_done(request),
    )  # fmt: skip


@router.post("/groups/{group}/benign")
def add_benign(
    group: str, request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Add a value to the group's own known-benign list."""
    _checked(request, me, form)
    with _write(session):
        benign.add_entry(session, me.who.principal, group[:64], form.get("value", "")[:2048],
                         form.get("note", "")[:1000])  # fmt: skip
    return redirect(f"{PREFIX}/groups/{group}/benign", done="benign-added")


@router.post("/groups/{group}/benign/remove")
def remove_benign(
    group: str, request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Take a value off the group's own known-benign list (after a confirmation)."""
    _checked(request, me, form)
    value = form.get("value", "")[:2048]
    with session.begin():
        g, _entries = benign.list_entries(session, me.who.principal, group[:64])
    ask = _confirmed(
        request, me, form, title=N_("Take the value off the list?"), group=g, button=N_("Take it off"),
        question=Phrase("'{value}' goes back onto device lists wherever it is shared.", value=value),
        fields={"value": value},
        back=f"{PREFIX}/groups/{g.slug}/benign",
    )  # fmt: skip
    if ask is not None:
        return ask
    with _write(session):
        benign.remove_entry(session, me.who.principal, group[:64], form.get("value", "")[:2048])
    return redirect(f"{PREFIX}/groups/{group}/benign", done="benign-removed")


def _prefix(text: str, what: str) -> int | None:
    """A prefix length typed in a form: empty for the hub's default."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 3:
        raise Unprocessable(
            Phrase("{field}: a prefix length (a number), or empty for the hub's default", field=what)
        )
    return int(text)


@router.post("/groups/{group}/benign/settings")
def benign_settings(
    group: str, request: Request, form: dict[str, str] = Form, me: Me = Who, session: Session = Db
) -> Response:
    """Set the group's IP prefix minimums and known-benign mode."""
    _checked(request, me, form)
    with _write(session):
        benign.list_entries(session, me.who.principal, group[:64])  # 404 as the page, for non-coordinators
        manage.update_group(
            session, me.who.principal, group[:64],
            min_ipv4_prefix=_prefix(form.get("min_ipv4_prefix", ""), "min_ipv4_prefix"),
            min_ipv6_prefix=_prefix(form.get("min_ipv6_prefix", ""), "min_ipv6_prefix"),
            benign_mode=form.get("benign_mode", "flag")[:16],
        )  # fmt: skip
    return redirect(f"{PREFIX}/groups/{group}/benign", done="benign-settings")


# ---------------------------------------------------------------- audit log


def _when(value: str, what: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise Unprocessable(
            Phrase("{field} is a date or time such as 2026-12-01 or 2026-12-01T10:00.", field=what)
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@router.get("/groups/{group}/audit", response_class=HTMLResponse)
def audit_page(group: str, request: Request, me: Me = Who, session: Session = Db) -> Response:
    """A group's audit log, newest first, with filters."""
    q = request.query_params
    filters = {k: q.get(k, "")[:64] for k in ("organisation", "action", "since", "until")}
    cursor = q.get("cursor", "")[:40] or None
    request.app.state.audit.flush(timeout=5.0)  # the reads this process answered are in it
    events: list[reports.AuditEntry] = []
    nxt, names, aliases, error = None, {}, {}, ""
    with session.begin():
        g = _group(session, me, group)
        try:
            query = reports.AuditQuery(
                group=g.slug, organisation=filters["organisation"].strip() or None,
                action=filters["action"].strip() or None,
                since=_when(filters["since"], "since"), until=_when(filters["until"], "until"),
            )  # fmt: skip
            events, nxt = reports.audit_page(session, me.who.principal, query, limit=50, cursor=cursor)
        except Unprocessable as exc:  # shown beside the filters, which keep what was typed
            error = exc.description
        names = _names(session, events)
        # per-collection events (a push, a pull) name their collection: the same action in two collections
        # is two rows
        ids = {e.collection_id for e in events if e.collection_id}
        if ids:
            aliases = dict(
                session.execute(
                    select(Collection.id, Collection.alias).where(
                        Collection.group_id == g.id, Collection.id.in_(ids)
                    )
                ).all()
            )
    return render(
        request, "audit.html", me, group=g, events=events, next=nxt, filters=filters, names=names,
        dt=i18n.when, aliases=aliases, error=error, status=422 if error else 200,
    )  # fmt: skip


# ---------------------------------------------------------------- policy explain


@router.get("/groups/{group}/explain", response_class=HTMLResponse)
def explain_page(group: str, request: Request, me: Me = Who, session: Session = Db) -> Response:
    """ "May X see Y, and why": the policy layer's explanation, as a form."""
    q = request.query_params
    form = {k: q.get(k, "").strip()[:300] for k in ("object", "reader", "to")}
    answers: list[Any] = []
    error = ""
    with session.begin():
        g = _group(session, me, group)
        p = me.who.principal
        if form["object"]:
            try:
                answers = explain(
                    session,
                    object_id=form["object"],
                    reader=form["reader"][:64] or None,
                    to_group=form["to"][:64] or None,
                    export=False,
                    within_groups={g.id},
                    asker=None if p.is_admin else Reader(org_id=p.org_id, role=None, clearance=Tlp.CLEAR),
                    asker_roles={gid: (m.role, m.clearance) for gid, m in p.memberships.items()},
                    caller=p,
                )
            except ExplainError as exc:
                error = exc.args[0] if exc.args else str(exc)
    return render(request, "explain.html", me, group=g, form=form, answers=answers, error=error)
