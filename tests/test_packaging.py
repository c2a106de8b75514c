"""The hub as it is deployed: a wheel built from the Docker build context, installed (not editable) into a
fresh virtual environment, migrating, loading the demo and serving TAXII; and the Dockerfile's rules.

There is no Docker engine where the suite runs, so the image is proven by its parts: the same files the
Dockerfile copies are built into the same wheel and installed the same way, and its health check command
is run against the served hub.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import drop_database, free_port, fresh_database

pytestmark = pytest.mark.slow  # a wheel built and installed into a fresh venv, the demo served

ROOT = Path(__file__).resolve().parent.parent
TAXII = "application/taxii+json;version=2.1"


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def build_context_paths() -> list[str]:
    """The sources the Dockerfile's build stage copies (COPY lines without --from)."""
    paths: list[str] = []
    for line in dockerfile().splitlines():
        parts = line.split()
        if parts[:1] == ["COPY"] and not any(p.startswith("--from") for p in parts):
            paths.extend(parts[1:-1])
    return paths


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the hub's wheel (with the postgres extra), built as the image builds it."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "*.db")
    for rel in build_context_paths():
        origin = ROOT / rel
        if origin.is_dir():
            shutil.copytree(origin, src / rel, ignore=ignore)
        else:
            shutil.copy2(origin, src / rel)
    wheels = tmp / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"{wheel}[postgres]"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return venv


def run_hub(venv: Path, *args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "hub"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def hub_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**env, "HUB_DATABASE_URL": url, "HUB_SECRET_KEY": "packaging-test", **extra}


@pytest.fixture
def database(db_kind: str, tmp_path: Path) -> Iterator[str]:
    url = fresh_database(db_kind, "hub_wheel", tmp_path)
    yield url
    drop_database(db_kind, "hub_wheel")


def wait_healthy(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "hub serve exited"
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("hub serve did not become healthy within 60 s")


def test_the_installed_hub_is_not_the_checkout(installed):
    out = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "import hub, hub.schema; print(hub.__file__); print(hub.schema.migrations_dir())",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout.splitlines()
    assert "site-packages" in out[0] and str(ROOT) not in out[0]
    migrations = Path(out[1])
    assert migrations.is_relative_to(installed)
    assert (migrations / "env.py").is_file() and (migrations / "script.py.mako").is_file()
    assert list((migrations / "versions").glob("0001_*.py"))


def test_installed_wheel_migrates_loads_the_demo_and_serves_taxii(installed, database, tmp_path):
    env = hub_env(database)
    up = run_hub(installed, "db", "upgrade", env=env, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    keys = tmp_path / "keys.json"
    demo = run_hub(installed, "demo", "--no-serve", "--keys-json", str(keys), env=env, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    summary = json.loads(keys.read_text())
    key = summary["organisations"]["cert-mu"]["key"]
    coll = summary["organisations"]["cert-mu"]["api_roots"]["africa"]["collections"]
    port = free_port()
    proc = subprocess.Popen(
        [str(installed / "bin" / "hub"), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        auth = {"Accept": TAXII, "Authorization": f"Bearer {key}"}
        discovery = httpx.get(f"{base}/taxii2/", headers=auth, timeout=10)
        assert discovery.status_code == 200
        assert f"{base}/taxii2/africa/" in discovery.json()["api_roots"]
        objects = httpx.get(
            f"{base}/taxii2/africa/collections/{next(iter(coll.values()))}/objects/", headers=auth, timeout=10
        )
        assert objects.status_code == 200 and objects.headers["content-type"] == TAXII
        assert httpx.get(f"{base}/readyz", timeout=10).json() == {"status": "ready"}
        # the image's HEALTHCHECK command, run as Docker would run it (shell form)
        check = healthcheck_command()
        done = subprocess.run(
            ["/bin/sh", "-c", check],
            env={**env, "PATH": f"{installed / 'bin'}:{env.get('PATH', '')}", "HUB_PORT": str(port)},
            timeout=30,
        )
        assert done.returncode == 0
    finally:
        proc.terminate()
        _out, logs = proc.communicate(timeout=30)
    # the served process wrote structured logs: one JSON object a line (stderr is not a terminal)
    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
    access = [r for r in lines if r.get("logger") == "hub.access"]
    assert any(
        r["path"] == "/taxii2/" and r["status"] == 200 and r["organisation"] == "cert-mu" for r in access
    )
    assert key.split("_", 2)[2] not in logs


def healthcheck_command() -> str:
    text = dockerfile().replace("\\\n", " ")
    match = re.search(r"^HEALTHCHECK .*? CMD (.+)$", text, re.MULTILINE)
    assert match, "the Dockerfile has no HEALTHCHECK"
    return match.group(1).strip()


def test_dockerfile_runs_as_an_unprivileged_user_and_installs_no_editable_copy():
    text = dockerfile()
    final = text.split("\nFROM ")[-1]  # the runtime stage
    users = re.findall(r"^USER (\S+)", final, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "pip install" in final and " -e " not in final and "--editable" not in final
    assert "HEALTHCHECK" in final and "/healthz" in healthcheck_command()
    shlex.split(healthcheck_command())  # well-formed shell


def test_dockerignore_keeps_the_venv_databases_and_git_out_of_the_build_context():
    patterns = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    for needed in (".venv/", ".git/", "*.db", "**/__pycache__/", ".pytest_cache/"):
        assert needed in patterns
    for rel in build_context_paths():
        assert (ROOT / rel).exists(), f"the Dockerfile copies {rel}, which does not exist"


def test_every_package_folder_is_listed_for_the_wheel():
    """pyproject.toml lists packages by hand (two folders are mapped); a new package must be added."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    mapped = {folder: name for name, folder in cfg["package-dir"].items()}
    found = set()
    tops = [d for d in ROOT.iterdir() if d.is_dir() and d.name not in ("tests", "bench", "build", "dist")]
    inits = [i for d in tops if not d.name.startswith(".") for i in d.glob("**/__init__.py")]
    for init in inits:
        rel = init.parent.relative_to(ROOT)
        top = mapped.get(rel.parts[0])
        found.add(".".join([top, *rel.parts[1:]]) if top else ".".join(rel.parts))
    assert found == listed


def test_editable_checkout_finds_the_same_migrations():
    from hub.schema import head_revision, migrations_dir

    assert migrations_dir().resolve() == (ROOT / "migrations").resolve()
    assert head_revision()
