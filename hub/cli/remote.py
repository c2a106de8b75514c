"""The CLI's client of the admin API (`hub --url URL ...`): where to connect, with which key, and output.

The URL comes from `--url` or HUB_URL, the key from HUB_API_KEY; or both from a profile in
`~/.config/hub/profiles.toml` (HUB_PROFILES to put it elsewhere), chosen with `--profile` or HUB_PROFILE:

    [africa]
    url = "https://hub.example.org"
    key = "hub_..."
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import typer
from rich.table import Table
from rich.text import Text

from hub.cli.common import SafeConsole, _fail, clean, console

TIMEOUT = 30.0


@dataclass
class Remote:
    """Where the admin API is and the key to call it with."""

    url: str | None = None
    key: str | None = None
    profile: str | None = None


def profiles_path() -> Path:
    """The profiles file: HUB_PROFILES, else ~/.config/hub/profiles.toml."""
    return Path(os.environ.get("HUB_PROFILES") or Path.home() / ".config" / "hub" / "profiles.toml")


def resolve(url: str | None, profile: str | None) -> Remote:
    """The connection the command line, the environment and the profile file give, in that order."""
    key = os.environ.get("HUB_API_KEY")
    if profile:
        path = profiles_path()
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            _fail(f"--profile {profile}: there is no profiles file {path}")
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            _fail(f"{path}: not valid TOML: {exc}")
        entry = data.get(profile)
        if not isinstance(entry, dict):
            _fail(f"{path}: there is no profile [{profile}]")
        url = url or entry.get("url")
        key = key or entry.get("key")
    return Remote(url=url, key=key, profile=profile)


# the paths of the hub's own surfaces: a URL given with one of them (the demo prints the discovery URL,
# .../taxii2/) still means the hub it is on
_SURFACES = ("/taxii2", "/admin/v1", "/admin", "/console")


def hub_base(url: str) -> str:
    """The hub's base URL from a URL of the hub: its own, or one of its discovery, API root, admin API
    or console URLs (http://h:8000/taxii2/africa/ -> http://h:8000)."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    for surface in _SURFACES:
        at = (path + "/").find(surface + "/")
        if at >= 0:
            path = path[:at]
            break
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def remote(ctx: typer.Context) -> Remote:
    """The connection of this invocation (the root command's options)."""
    found = ctx.find_root().obj
    return found if isinstance(found, Remote) else Remote()


def call(
    ctx: typer.Context,
    method: str,
    path: str,
    *,
    body: Any = None,
    params: dict[str, Any] | None = None,
    auth: bool = True,
) -> Any:
    """Call the admin API; a refusal becomes a one-line error naming the status and the hub's reason."""
    r = remote(ctx)
    if not r.url:
        _fail("this command talks to a hub: give --url URL (or HUB_URL, or --profile NAME)")
    headers = {"Accept": "application/json"}
    if auth:
        if not r.key:
            _fail("no API key: set HUB_API_KEY (or put `key` in the profile)")
        headers["Authorization"] = f"Bearer {r.key}"
    base = hub_base(str(r.url))
    url = base + "/admin/v1" + path
    clean = {k: v for k, v in (params or {}).items() if v is not None}
    try:
        resp = httpx.request(method, url, json=body, params=clean, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        _fail(f"{r.url}: {type(exc).__name__}: {exc}")
    return _answer(resp, base)


def _answer(resp: httpx.Response, base: str = "") -> Any:
    if resp.status_code >= 400:
        try:
            err = resp.json()
            reason = f"{err.get('title', 'Error')}: {err.get('description', '')}".rstrip(": ")
        except ValueError:
            err, reason = None, resp.text[:200] or resp.reason_phrase
        described = err.get("description") if isinstance(err, dict) else None
        if resp.status_code == 404 and described in (None, "", "Not Found"):
            # not the hub's "there is no X" but a server without the admin API there
            _fail(
                f"404 Not found: {base or 'the URL'} answers no hub admin API (nothing at /admin/v1): "
                "give the hub's base URL, e.g. http://127.0.0.1:8000"
            )
        _fail(f"{resp.status_code} {reason}")
    if resp.status_code == 204 or not resp.content:
        return None
    if resp.headers.get("content-type", "").startswith("application/x-ndjson"):
        return resp.text
    return resp.json()


def show(data: Any, *, as_json: bool, columns: list[str] | None = None, title: str | None = None) -> None:
    """Print JSON for scripts, or a table (a list) or key: value lines (one record) for people."""
    if as_json:
        if data is not None:
            # ASCII JSON: every control, C1 and bidi character is a \u escape, so the value stays exact and
            # nothing in it reaches the terminal as a control
            typer.echo(json.dumps(data, indent=2, ensure_ascii=True))
        return
    if data is None:
        return
    if isinstance(data, list):
        if not data:
            console.print("(none)")
            return
        cols = columns or list(data[0])
        table = Table(title=title, show_lines=False)
        for c in cols:
            table.add_column(c)
        for row in data:
            table.add_row(*(_cell(row.get(c)) for c in cols))
        # piped or captured output keeps whole rows, for grep; a terminal gets rich's fitting
        wide = console if console.is_terminal else SafeConsole(width=250)
        wide.print(table)
        return
    for k, v in data.items():
        console.print(Text(f"{k}", style="bold") + Text(f": {_cell(v)}"), highlight=False, soft_wrap=True)


def ascii_lines(text: str) -> str:
    """JSON lines from a hub, for a terminal: each line re-encoded as ASCII JSON (the same values, every
    control, C1 and bidi character escaped); a line that is not JSON loses its control characters."""
    out = []
    for line in text.removesuffix("\n").split("\n") if text else []:  # JSON lines end in \n, nothing else
        try:
            out.append(json.dumps(json.loads(line), ensure_ascii=True, separators=(",", ":")))
        except ValueError:
            out.append(clean(line))
    return "".join(f"{line}\n" for line in out)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) or "-"
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True)
    return str(v)


JSON = typer.Option(False, "--json", help="print JSON (for scripts) instead of a table")
