"""The console's vendored files are the pinned ones VENDORED.md lists."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_vendored_files_match_their_recorded_sha256():
    table = (ROOT / "hub/console/static/VENDORED.md").read_text()
    rows = re.findall(r"\| `([^`]+)`[^|]*\| `([^`]+)`[^|]*\| ([0-9.]+) \| `([0-9a-f]{64})` \|", table)
    assert len(rows) == 4
    for path, _package, _version, sha in rows:
        assert hashlib.sha256((ROOT / path).read_bytes()).hexdigest() == sha, path


def test_the_revendoring_script_pins_the_recorded_versions():
    script = (ROOT / "hub/console/vendor.sh").read_text()
    assert "HTMX=2.0.4" in script and "AXE=4.10.2" in script and "SWAGGER=5.36.0" in script
