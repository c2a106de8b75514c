"""The coordinator's walkthrough of docs/admin.md, run as written: its commands are read from the page.

Each shell block is preceded by a marker saying where it runs: `<!-- walkthrough: the demo -->` on a
`hub demo` process (as `./dev demo` starts it), `<!-- walkthrough: a new hub -->` on an empty hub served by
`hub serve`. Lines are run one by one as a shell would (continuations, comments, `export`, `VAR= cmd`,
`&&`; each `hub` command in this process, as the installed `hub` runs it), with the page's placeholders
filled in: `https://hub.example.org` is the hub's URL, `<the admin key>` what `hub admin create-key`
printed, `<CERT-MU's key>` the key the demo printed for cert-mu, and `inv_...` the first invitation token
a command printed. A placeholder the test does not know fails it. Every command must succeed; the one
exception is a feed run that failed because this machine cannot reach the feed's site (the run is still
recorded and printed, which is what the walkthrough shows).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.net import UNREACHABLE
from tests.conftest import free_port

DOC = Path(__file__).resolve().parents[1] / "docs" / "admin.md"
HUB = [sys.executable, "-m", "hub.cli"]
MARKER = re.compile(r"<!-- walkthrough: (the demo|a new hub) -->\s*```sh\n(.*?)```", re.S)

pytestmark = pytest.mark.slow


def walkthrough() -> list[tuple[str, str]]:
    """(where, block) for each marked block of the walkthrough section, in order."""
    text = DOC.read_text()
    section = text.split("### A coordinator's walkthrough", 1)[1].split("\n### ", 1)[0]
    return MARKER.findall(section)


def commands(block: str) -> list[str]:
    """The block's logical lines: continuations joined, blank and comment-only lines dropped."""
    out: list[str] = []
    for line in block.replace("\\\n", " ").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(line)
    return out


@dataclass
class Shell:
    """Runs walkthrough lines as `sh` would, with `hub` this checkout's command."""

    cwd: Path
    env: dict[str, str]
    fill: dict[str, str]
    printed: list[str] = field(default_factory=list)

    def line(self, line: str) -> None:
        for placeholder, value in self.fill.items():
            line = line.replace(placeholder, value)
        if "inv_..." in line:
            token = re.search(r"\binv_[A-Za-z0-9_-]{16,}", "\n".join(self.printed))
            assert token, "no invitation token was printed before the redeem"
            line = line.replace("inv_...", token.group(0))
        left = re.findall(r"<[^<>]+>", line)
        assert not left, f"a placeholder this test does not fill: {left} in {line!r}"
        words = shlex.split(line, comments=True)
        while words:
            cmd, words = (
                (words[: words.index("&&")], words[words.index("&&") + 1 :]) if "&&" in words else (words, [])
            )
            self.run(cmd, line)

    def run(self, words: list[str], line: str) -> None:
        if words[0] == "export":
            for assignment in words[1:]:
                name, _, value = assignment.partition("=")
                self.env[name] = value
            return
        env = dict(self.env)
        while "=" in words[0] and re.match(r"^[A-Z_]+=", words[0]):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        assert words[0] == "hub", f"the walkthrough runs hub commands only: {line!r}"
        # in this process (a `hub` process costs seconds of imports); the demo and the new hub are processes
        here = os.getcwd()
        os.chdir(self.cwd)
        try:
            r = CliRunner().invoke(app, words[1:], env=env)
        finally:
            os.chdir(here)
        self.printed.append(r.stdout)
        ran_offline = (
            words[1:3] == ["feed", "run"]
            and r.exit_code == 1
            and "failed" in r.stdout
            and UNREACHABLE[:24] in r.stdout
        )
        assert r.exit_code == 0 or ran_offline, f"{line!r} exited {r.exit_code}:\n{r.output}"


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return env | {"HOME": str(tmp), "COLUMNS": "200"}  # no profiles file of the person running the tests


def _wait_for(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("the hub did not start listening")


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        p.terminate()
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(30)
        if p.stdout is not None:  # the demo's pipe: closed here, not by a later test's garbage collection
            p.stdout.close()


def test_the_walkthrough_has_blocks_for_both_hubs() -> None:
    where = [w for w, _ in walkthrough()]
    assert where[0] == "a new hub" and where.count("the demo") >= 2
    text = "\n".join(b for _, b in walkthrough())
    for needed in ("invite redeem inv_...", "hub feed run africa", "hub feed runs africa", "hub audit list"):
        assert needed in text


def test_the_walkthrough_runs_as_written(tmp_path: Path, started: list[subprocess.Popen[str]]) -> None:
    demo_dir, new_dir = tmp_path / "demo", tmp_path / "new"
    demo_dir.mkdir()
    new_dir.mkdir()
    # the demo, as ./dev demo starts it (on a free port)
    demo_port = free_port()
    demo_env = _clean_env(tmp_path) | {"HUB_PORT": str(demo_port)}
    demo = subprocess.Popen(
        [*HUB, "demo", "--keys-json", "keys.json"], cwd=demo_dir, env=demo_env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    started.append(demo)
    # a new hub: migrated and served, nothing in it
    new_port = free_port()
    new_env = _clean_env(tmp_path) | {"HUB_DATABASE_URL": f"sqlite:///{new_dir / 'hub.db'}"}
    subprocess.run(
        [*HUB, "db", "upgrade"], cwd=new_dir, env=new_env, check=True, capture_output=True, timeout=120
    )
    new = subprocess.Popen(
        [*HUB, "serve", "--port", str(new_port)], cwd=new_dir, env=new_env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    started.append(new)
    _wait_for(demo_port, demo)
    _wait_for(new_port, new)
    keys = json.loads((demo_dir / "keys.json").read_text())

    on_new = Shell(new_dir, dict(new_env), {"https://hub.example.org": f"http://127.0.0.1:{new_port}"})
    on_demo = Shell(
        demo_dir,
        _clean_env(tmp_path),
        {
            "https://hub.example.org": f"http://127.0.0.1:{demo_port}",
            "<CERT-MU's key>": keys["organisations"]["cert-mu"]["key"],
        },
    )
    for where, block in walkthrough():
        shell = on_new if where == "a new hub" else on_demo
        for line in commands(block):
            if line.startswith("hub admin create-key"):
                shell.line(line)
                shell.fill["<the admin key>"] = shell.printed[-1].strip().splitlines()[-1]
                continue
            shell.line(line)

    printed = "\n".join(on_demo.printed)
    assert "gh-cert" in printed and "tz-cert" in printed  # the invitations, listed
    runs = [p for p in on_demo.printed if "started_at" in p]
    assert len(runs) >= 2, on_demo.printed  # `hub feed run` printed the run, and `hub feed runs` did too
    assert (demo_dir / "africa-audit.jsonl").stat().st_size > 0
