"""What the CLI prints from a hub or a database reaches the terminal as text: no markup, no control codes."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from hub.cli import app

# rich markup, an OSC 8 hyperlink, a screen clear, a bell, a carriage return, C1 CSI and a bidi override
EVIL = "[bold red]x[/] \x1b]8;;http://evil\x1b\\link\x1b[2J\x07\r\x9b31m\u202eevil"
CONTROLS = ("\x1b", "\x07", "\r", "\x9b", "\u202e")


def assert_plain(output: str) -> None:
    assert not [c for c in CONTROLS if c in output], repr(output)


def run(hub: Any, who: str, *args: str) -> Any:
    r = CliRunner().invoke(app, ["--url", hub.base, *args], env={"HUB_API_KEY": hub.keys[who]})
    assert r.exit_code == 0, r.output
    return r


def test_remote_cli_prints_server_text_without_markup_or_control_characters(hub, monkeypatch):
    monkeypatch.delenv("HUB_PROFILE", raising=False)
    made = httpx.post(
        f"{hub.base}/admin/v1/organisations",
        json={"slug": "cli-evil", "name": EVIL, "country": "MU"},
        headers={"Authorization": f"Bearer {hub.keys['admin']}"},
    )
    assert made.status_code == 201, made.text
    for args in (("org", "list"), ("org", "show", "cli-evil")):
        out = run(hub, "admin", *args).stdout
        assert "[bold red]x[/]" in out  # shown as the characters it is, not as red bold "x"
        assert "link" in out and "evil" in out
        assert_plain(out)
    as_json = run(hub, "admin", "org", "show", "cli-evil", "--json").stdout
    assert json.loads(as_json)["name"] == EVIL  # scripts get the exact value, JSON-escaped


class _Hostile(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/admin/v1/audit/export"):
            # JSON may carry C1 and bidi characters raw; a broken line carries anything
            status, media = 200, "application/x-ndjson"
            body = (json.dumps({"detail": EVIL}, ensure_ascii=False) + "\n" + EVIL + "\n").encode()
        else:
            status, media = 502, "text/plain"
            body = f"upstream says {EVIL}".encode()
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_remote_cli_error_from_a_hostile_server_is_plain_text(hostile, monkeypatch):
    monkeypatch.delenv("HUB_PROFILE", raising=False)
    r = CliRunner().invoke(app, ["--url", hostile, "whoami"], env={"HUB_API_KEY": "hub_x_y"})
    assert r.exit_code == 2
    assert "502" in r.output and "[bold red]x[/]" in r.output
    assert_plain(r.output)


def test_local_cli_prints_database_text_without_control_characters(hub, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", hub.server.db_url)
    monkeypatch.delenv("HUB_URL", raising=False)
    made = CliRunner().invoke(app, ["key", "create", "--org", "cert-a", "--label", EVIL])
    assert made.exit_code == 0, made.output
    listed = CliRunner().invoke(app, ["key", "list", "--org", "cert-a"])
    assert listed.exit_code == 0, listed.output
    assert "[bold red]x[/]" in listed.stdout
    assert_plain(listed.stdout)


def test_remote_audit_export_to_a_terminal_is_plain_and_keeps_the_values(hostile, monkeypatch):
    monkeypatch.delenv("HUB_PROFILE", raising=False)
    r = CliRunner().invoke(app, ["--url", hostile, "audit", "export"], env={"HUB_API_KEY": "hub_x_y"})
    assert r.exit_code == 0, r.output
    assert_plain(r.stdout)
    first, second = r.stdout.splitlines()
    assert json.loads(first) == {"detail": EVIL}
    assert "[bold red]x[/]" in second
