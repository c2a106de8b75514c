"""The README's examples run as written against the demo: the `hub` commands of the quick start, the
taxii2-client example and the curl examples. Only the port differs (the demo's 8000 may be taken here).
Every relative link of the README and of `docs/` leads to a file that exists, and to a heading in it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def block(after: str, lang: str) -> str:
    """The first ```lang code block after the line containing `after`."""
    text = (ROOT / "README.md").read_text()
    start = text.index(after)
    match = re.compile(rf"^```{lang}\n(.*?)^```", re.MULTILINE | re.DOTALL).search(text, start)
    assert match, f"no {lang} block after {after!r}"
    return match.group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`hub demo --no-serve` in an empty folder (its default SQLite file), then `hub serve`."""
    folder = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PATH"] = "/usr/bin:/bin"
    hub = str(BIN / "hub")
    made = subprocess.run(
        [hub, "demo", "--no-serve", "--keys-json", "keys.json"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    summary = json.loads((folder / "keys.json").read_text())
    port = free_port()
    log = (folder / "serve.log").open("w")
    proc = subprocess.Popen(
        [hub, "serve", "--port", str(port)], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "hub serve did not start"
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        org = summary["organisations"]["cert-mu"]
        env_run = {**env, "KEY": org["key"], "COLL": org["api_roots"]["africa"]["collections"]["indicators"]}
        yield {"folder": folder, "port": port, "env": env_run, "output": made.stdout}
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def on_port(code: str, port: int) -> str:
    return code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")


def test_demo_prints_the_collection_ids(demo):
    assert f"africa/indicators: {demo['env']['COLL']}" in demo["output"]


def test_readme_hub_commands_run_as_written(demo):
    code = block("`./dev demo` installs the `hub` command", "sh").replace(".venv/bin/", f"{BIN}/")
    r = subprocess.run(
        ["/bin/sh", "-e", "-c", code], cwd=demo["folder"], env=demo["env"], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "key_id" in r.stdout and "taxii" in r.stdout


def test_readme_taxii2_client_example_runs_as_written(demo):
    code = on_port(block("With taxii2-client", "python"), demo["port"])
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=demo["folder"], env=demo["env"], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "stored: 1" in r.stdout
    assert "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f C2 server" in r.stdout


def test_readme_curl_examples_run_as_written(demo, tmp_path):
    code = on_port(block("With curl (Bearer)", "sh"), demo["port"])
    assert "curl -g" in code  # the filtered GET's brackets need curl's globbing off
    r = subprocess.run(
        ["/bin/sh", "-e", "-c", code], cwd=tmp_path, env=demo["env"], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert '"api_roots"' in r.stdout
    assert '"success_count":1' in r.stdout
    assert "[domain-name:value = 'evil.example']" in r.stdout  # read back by the filtered GET


def anchors(path: Path) -> set[str]:
    """The heading anchors GitHub makes for a Markdown file (headings inside code blocks are not headings)."""
    found: set[str] = set()
    fence = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and (m := re.match(r"#{1,6} (.*)", line)):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            found.add(slug)
    return found


def test_relative_links_of_the_readme_and_docs_resolve():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken, checked = [], 0
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto
            name, _, fragment = target.partition("#")
            path = (page.parent / name).resolve() if name else page
            checked += 1
            if not path.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif fragment and fragment not in anchors(path):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert checked > 30
    assert not broken, "\n".join(broken)


def test_the_architecture_page_links_the_read_door():
    text = (ROOT / "docs/architecture.md").read_text()
    section = text[text.index("## The one read door") :]
    assert "](architecture-reads.md)" in section.split("\n## ")[0]
