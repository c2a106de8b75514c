"""The code stays ruff-clean and the architecture's import contracts hold."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ruff, mypy and import-linter over the whole tree

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing():
    r = _run(str(BIN / "ruff"), "check", "--no-cache", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_import_contracts_hold():
    r = _run(str(BIN / "lint-imports"), "--no-cache")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_finds_nothing():
    r = _run(str(BIN / "mypy"))  # strict, on hub and connectors: [tool.mypy] in pyproject.toml
    assert r.returncode == 0, r.stdout + r.stderr


def test_only_the_store_may_import_the_version_tables():
    """The forbidden contract names every module and package of the hub but the store, so a new one
    cannot import the object-version tables unnoticed."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    contract = next(c for c in contracts if c.get("forbidden_modules") == ["hub.store.tables"])
    hub_dir = ROOT / "hub"
    # a checkout may link migrations/ in as hub/migrations (a symlink): not the hub's source
    children = {f"hub.{p.stem}" for p in hub_dir.glob("*.py") if p.stem != "__init__"} | {
        f"hub.{p.name}" for p in hub_dir.iterdir() if (p / "__init__.py").exists() and not p.is_symlink()
    }
    assert children - {"hub.store"} <= set(contract["source_modules"])
    assert not contract.get("ignore_imports")  # no module outside the store is let off
