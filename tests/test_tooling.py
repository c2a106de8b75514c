"""The code stays ruff-clean and the architecture's import contracts hold."""

from __future__ import annotations

import subprocess
import sys
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
