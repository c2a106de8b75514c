"""The console's HTTP plumbing: signed session cookies, CSRF tokens, the signed-in dependency, templates,
HTML error pages and the console's own security headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.console import accounts, i18n
from hub.db import begin_write
from hub.errors import Forbidden
from hub.policy.tlp import Tlp
from hub.settings import Settings
from hub.trust.manage import tlp_name
from hub.trust.models import TrustGroup
from hub.web.deps import db_session, page_key

PREFIX = "/console"
SESSION_COOKIE = "hub_console"
PRE_COOKIE = "hub_console_pre"  # binds the sign-in form's CSRF token to this browser
HERE = Path(__file__).parent
log = logging.getLogger("hub.console")


def static_version() -> str:
    """A digest of the static files: their URLs change with their content, so browsers may cache them."""
    h = hashlib.sha256()
    for f in sorted((HERE / "static").glob("*.*")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:12]


# no inline script or style anywhere: htmx and the stylesheet are files of our own origin
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
CONSOLE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class ConsoleHeaders:
    """Security headers of console pages; static files may be cached (their URLs carry a version)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PREFIX + "/") and path != PREFIX:
            await self.app(scope, receive, send)
            return
        static = path.startswith(PREFIX + "/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in CONSOLE_HEADERS.items():
                    headers.setdefault(name, value)
                if static:
                    headers["Cache-Control"] = "public, max-age=604800"
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ---------------------------------------------------------------- keys, cookies and CSRF


def console_key(request: Request, session: Session = Depends(db_session)) -> bytes:
    """The key that signs console cookies and CSRF tokens, derived from the hub's shared secret."""
    key: bytes | None = getattr(request.app.state, "console_key", None)
    if key is None:
        key = hmac.new(page_key(request, session), b"console", hashlib.sha256).digest()
        request.app.state.console_key = key
    return key


def _mac(key: bytes, purpose: str, value: str) -> str:
    mac = hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def sign_token(key: bytes, token: str) -> str:
    """The cookie value of a session token: the token and its MAC."""
    return f"{token}.{_mac(key, 'session', token)}"


def unsign_token(key: bytes, value: str | None) -> str | None:
    """The session token inside a cookie value, or None when it is absent or its MAC is wrong."""
    if not value or len(value) > 200:
        return None
    token, _, mac = value.rpartition(".")
    if not token or not hmac.compare_digest(mac, _mac(key, "session", token)):
        return None
    return token


def csrf_for(key: bytes, token_digest: str) -> str:
    """The synchroniser token of a session (derived, so nothing more is stored)."""
    return _mac(key, "csrf", token_digest)


def secure_cookies(request: Request) -> bool:
    """Cookies are Secure when the hub's public URL (or this request) is https."""
    cfg: Settings = request.app.state.settings
    return cfg.public_url.startswith("https://") or request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    """An HttpOnly, SameSite=Strict cookie scoped to the console."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX + "/",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    """Remove a console cookie."""
    response.delete_cookie(
        name, path=PREFIX + "/", httponly=True, samesite="strict", secure=secure_cookies(request)
    )


def check_origin(request: Request) -> None:
    """403 when a browser says the form came from another origin."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    own = {request.headers.get("host", "").lower()}
    cfg: Settings = request.app.state.settings
    if cfg.public_url:  # behind a proxy that rewrites Host, the public URL is the browser's origin
        own.add(urlsplit(cfg.public_url).netloc.lower())
    if urlsplit(origin).netloc.lower() not in own:
        raise Forbidden("This form was sent from another site; the console refuses it.")


def pre_token(request: Request, key: bytes) -> tuple[str, str | None]:
    """The pre-session CSRF token of this browser, and a new cookie value when it has none yet."""
    value = request.cookies.get(PRE_COOKIE) or ""
    fresh = None
    if not value or len(value) > 64:
        value = fresh = secrets.token_urlsafe(24)
    return _mac(key, "pre", value), fresh


# ---------------------------------------------------------------- who is signed in


class SignInRequired(Exception):
    """Raised by pages that need a session; answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str):
        self.next_path = next_path


@dataclass(frozen=True)
class Me:
    """The signed-in person, its groups (slug, name, role, clearance name) and its CSRF token."""

    who: accounts.SignedIn
    csrf: str
    groups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def coordinates(self) -> list[dict[str, Any]]:
        """The groups this person's organisation coordinates."""
        return [g for g in self.groups if g["role"] == "coordinator" or self.who.principal.is_admin]


def current(request: Request, session: Session, key: bytes) -> Me | None:
    """The signed-in person of this request, or None."""
    token = unsign_token(key, request.cookies.get(SESSION_COOKIE))
    if token is None:
        return None
    with session.begin():
        signed = accounts.resolve_session(session, token)
        if signed is None:
            return None
        p = signed.principal
        groups = []
        query = select(TrustGroup).order_by(TrustGroup.slug)
        if not p.is_admin:
            query = query.where(TrustGroup.id.in_(list(p.memberships)))
        for g in session.scalars(query):
            m = p.memberships.get(g.id)
            groups.append(
                {
                    "slug": g.slug,
                    "name": g.name,
                    "role": m.role if m else "platform admin",
                    "clearance": tlp_name(m.clearance) if m else tlp_name(Tlp.RED),
                }
            )
    if signed.stale:
        with session.begin():
            begin_write(session)
            accounts.touch_session(session, session_id=signed.session_id)
    request.state.organisation = signed.org_slug  # for the access log
    me = Me(who=signed, csrf=csrf_for(key, signed.token_digest), groups=groups)
    request.state.console_me = me  # an error page of this request shows the same navigation
    return me


def me_or_none(
    request: Request, session: Session = Depends(db_session), key: bytes = Depends(console_key)
) -> Me | None:
    """The signed-in person, or None (for pages open to everyone)."""
    return current(request, session, key)


def signed_in(
    request: Request, session: Session = Depends(db_session), key: bytes = Depends(console_key)
) -> Me:
    """The signed-in person; others are sent to the sign-in page."""
    me = current(request, session, key)
    if me is None:
        path = request.url.path
        raise SignInRequired(path if request.method == "GET" else PREFIX + "/")
    return me


# ---------------------------------------------------------------- templates


def _tlp_class(name: str) -> str:
    return "tlp-" + name.lower().replace("+", "-").replace(":", "")


templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
# one environment for every language: the callables read the language of the page being rendered
templates.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
templates.filters["t"] = i18n.translate
templates.filters["num"] = i18n.number
templates.filters["when"] = i18n.when
templates.globals["LANGUAGES"] = i18n.LANGUAGES
templates.filters["tlp_class"] = _tlp_class
templates.filters["tlp"] = lambda v: tlp_name(int(v))
templates.filters["urlq"] = lambda v: quote(str(v), safe="")
templates.globals["PREFIX"] = PREFIX
templates.globals["STATIC_VERSION"] = "0"  # set from the files' digest by hub.console.routes.install
TLP_NAMES = [tlp_name(t) for t in Tlp]
templates.globals["TLP_NAMES"] = TLP_NAMES


def render(
    request: Request,
    name: str,
    me: Me | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **ctx: Any,
) -> HTMLResponse:
    """Render a console page in the reader's language (hub.console.i18n.choose)."""
    lang = language_of(request, me)
    with i18n.speaking(lang):
        html = templates.get_template(name).render(
            request=request, me=me, path=request.url.path, lang=lang, **ctx
        )
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers["Content-Language"] = lang.code
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


def language_of(request: Request, me: Me | None) -> i18n.Language:
    """The account's language setting, else the browser's Accept-Language, else English."""
    return i18n.choose(me.who.language if me else None, request.headers.get("accept-language"))


def redirect(path: str, *, done: str | None = None) -> RedirectResponse:
    """303 to a console page (after a form), with an optional message code for the next page."""
    if done:
        path += ("&" if "?" in path else "?") + "done=" + quote(done)
    return RedirectResponse(path, status_code=303)


def error_page(
    request: Request, status: int, title: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    """An HTML error page (the console's face of every HubError and HTTP error).

    A signed-in person keeps the usual header and navigation: nothing on it depends on what was asked
    for, so a hidden object's 404 stays the very page an absent one gets.
    """
    try:
        return render(
            request,
            "error.html",
            _me_for_error(request, status),
            status=status,
            headers=headers,
            title=title,
            description=description,
            status_code=status,
        )
    except Exception:  # a broken template must not hide the error itself
        return HTMLResponse(f"<h1>{status}</h1>", status_code=status, headers=headers)


def _me_for_error(request: Request, status: int) -> Me | None:
    """The signed-in person of a request that failed: known already, or read again (an unknown path)."""
    me: Me | None = getattr(request.state, "console_me", None)
    if me is not None or status >= 500 or not request.cookies.get(SESSION_COOKIE):
        return me  # a server error may be the database itself: the page is drawn without it
    try:
        with request.app.state.sessionmaker() as session:
            return current(request, session, console_key(request, session))
    except Exception:  # the error page is drawn anyway, without navigation
        log.exception("could not read the session for an error page")
        return None


def is_console(request: Request) -> bool:
    """Whether a request is for a console page (errors are rendered as HTML there)."""
    path = request.url.path
    return (path == PREFIX or path.startswith(PREFIX + "/")) and not path.startswith(PREFIX + "/downloads/")
