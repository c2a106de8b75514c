"""The admin API's docs page: Swagger UI from the hub itself, under the console's CSP (observation 8)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_page_loads_only_the_hubs_own_files_under_a_strict_csp(client):
    r = client.get("/admin/v1/docs")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "<script>" not in r.text  # no inline script: the page starts Swagger UI from docs.js
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert refs and all(ref.startswith("/admin/v1/docs/static/") for ref in refs), refs
    assert "cdn" not in r.text.lower() and "//" not in "".join(refs)


def test_docs_assets_are_the_vendored_files(client):
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "docs.js"):
        r = client.get(f"/admin/v1/docs/static/{name}")
        assert r.status_code == 200, name
        assert r.content == (ROOT / "hub/admin/static" / name).read_bytes()
        assert "default-src 'none'" in r.headers["content-security-policy"]
    bundle = client.get("/admin/v1/docs/static/swagger-ui-bundle.js").content
    assert hashlib.sha256(bundle).hexdigest() in (ROOT / "hub/console/static/VENDORED.md").read_text()
    for other in ("swagger-ui-LICENSE.txt", "..%2Fapp.py", "..%2F..%2Fapp.py", "routes.py"):
        assert client.get(f"/admin/v1/docs/static/{other}").status_code == 404, other


def test_the_wheel_ships_the_docs_files_and_their_licence():
    import fnmatch
    import tomllib

    from hub.admin.routes import DOCS_FILES

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = patterns["hub.admin"]
    for name in [*DOCS_FILES, "swagger-ui-LICENSE.txt", "swagger-ui-NOTICE.txt"]:
        assert (ROOT / "hub/admin/static" / name).is_file(), name
        assert any(fnmatch.fnmatch(f"static/{name}", p) for p in shipped), name
