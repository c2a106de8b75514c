"""Browser tests: a live hub on 127.0.0.1 (SQLite) driven by Debian's chromium through Playwright.

They skip, saying why, only when /usr/bin/chromium is absent; `./dev test` installs it. Screenshots go to
docs/screenshots/ when HUB_UPDATE_SCREENSHOTS=1, else to a temporary folder.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from argon2 import PasswordHasher

from hub.console import accounts
from hub.db import make_engine, make_sessionmaker
from hub.schema import upgrade
from hub.settings import Settings
from hub.sync.models import Feed
from hub.trust.constituency_models import ConstituencyEntry
from hub.trust.models import Membership, Organisation, TrustGroup
from hub.vocab.ids import identity_id
from tests.conftest import LiveServer, _worker, fresh_database
from tests.console.conftest import PASSWORD, give_passwords
from tests.factories import TAXII, TLP, indicator, load_world

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (./dev test installs Debian's chromium)"
)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _objects() -> list[dict[str, Any]]:
    """A morning's worth of shared intelligence at every TLP: indicators, malware and observables."""
    levels = ["clear", "green", "green", "amber", "amber", "amber+strict"]
    objs = [indicator(i, tlp=levels[i % len(levels)]) for i in range(36)]
    for i, name in enumerate(["Emotet", "QakBot", "AsyncRAT", "Lumma Stealer"]):
        objs.append(
            {
                "type": "malware", "spec_version": "2.1",
                "id": f"malware--{uuid.uuid5(uuid.NAMESPACE_DNS, name)}",
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": name,
                "is_family": True, "object_marking_refs": [TLP["green" if i % 2 else "amber"]],
            }
        )  # fmt: skip
    for i, value in enumerate(["203.0.113.7", "198.51.100.23", "192.0.2.44"]):
        objs.append(
            {
                "type": "ipv4-addr", "spec_version": "2.1", "value": value,
                "id": f"ipv4-addr--{uuid.uuid5(uuid.NAMESPACE_DNS, value)}",
                "object_marking_refs": [TLP["clear" if i == 0 else "amber"]],
            }
        )  # fmt: skip
    objs.append(
        {
            "type": "indicator", "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_DNS, 'lumma-c2')}",
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "name": "Lumma Stealer C2", "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
            "pattern": "[ipv4-addr:value = '203.0.113.7'] OR [domain-name:value = 'evil.example']",
            "object_marking_refs": [TLP["green"]],
        }
    )  # fmt: skip
    for value in ["evil.example", "login-update.example"]:
        objs.append(
            {
                "type": "domain-name", "spec_version": "2.1", "value": value,
                "id": f"domain-name--{uuid.uuid5(uuid.NAMESPACE_DNS, value)}",
                "object_marking_refs": [TLP["green"]],
            }
        )  # fmt: skip
    return objs


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A live hub: the test world, person@<org> with console passwords, objects, a lab group, a feed."""
    name = f"hub_browser_{_worker()}"
    url = fresh_database("sqlite", name, tmp_path_factory.mktemp("browser"))
    upgrade(url)
    eng = make_engine(url)
    sm = make_sessionmaker(eng)
    world = load_world(sm)
    give_passwords(sm)
    with sm() as session, session.begin():
        # `partner` is known to cert-a (both in lab, which cert-a coordinates) but not yet in africa
        partner = Organisation(slug="partner", name="Partner CSIRT", identity_id=identity_id("partner"))
        lab = TrustGroup(slug="lab", name="Lab", description="", community="south", default_tlp=2, max_tlp=3)
        session.add_all([partner, lab])
        session.flush()
        a = session.query(Organisation).filter_by(slug="cert-a").one()
        session.add_all(
            [
                Membership(group_id=lab.id, organisation_id=a.id, role="coordinator", clearance=3),
                Membership(group_id=lab.id, organisation_id=partner.id, role="reader", clearance=2),
                # cert-a's constituency: a confirmed network (its Inside page lists 203.0.113.7) and a
                # domain waiting for confirmation
                ConstituencyEntry(organisation_id=a.id, kind="network", value="203.0.113.0/24",
                                  declared_at_us=1_700_000_000, confirmed_at_us=1_700_000_000),
                ConstituencyEntry(organisation_id=a.id, kind="domain", value="evil.example",
                                  declared_at_us=1_700_000_000),
                Feed(
                    name="abuse-blocklist", direction="pull", format="text_blocklist",
                    url="https://feed.example/list.txt", group_slug="africa", collection="indicators",
                    publish_as="cert-a", tlp="green", tlp_version=2, options={}, interval_s=3600,
                    enabled=True, next_run_at_us=4_102_444_800_000_000, failures=0,
                ),
            ]
        )  # fmt: skip
    eng.dispose()
    # a redeemed organisation signs in at once here; approval is tested in tests/admin and tests/console
    settings = Settings(
        database_url=url,
        secret_key="browser-secret",
        auth_failure_limit=10_000,
        invitations_self_service=True,
    )
    server = LiveServer(url, settings).start()
    world.base = server.base
    world.server = server
    objs = _objects()
    half = len(objs) // 2
    for who, chunk in (("cert-b", objs[:half]), ("cert-a", objs[half:])):
        r = httpx.post(
            server.base + world.objects_url("africa", "indicators"),
            content=orjson.dumps({"objects": chunk}),
            headers={**world.auth(who), "Content-Type": TAXII},
        )
        assert r.status_code == 202, r.text
    world.objects = objs
    try:
        yield world
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) at desktop width."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def sign_in(page: Any, hub: Any, org: str, *, password: str = PASSWORD, code: str = "") -> None:
    """Sign in through the form."""
    page.goto(f"{hub.base}/console/sign-in")
    page.get_by_label("Name").fill(f"person@{org}")
    page.get_by_label("Password").fill(password)
    if code:
        page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Sign in").click()


def shows(page: Any, text: str) -> None:
    """Wait until the page's body holds `text`. A form post's click returns once the navigation has
    committed, before the new document is parsed: `page.content()` read at once may be an empty page
    on a loaded machine (CI saw it). Playwright's expectation polls until the text is there, for up to
    20 s."""
    from playwright.sync_api import expect

    expect(page.locator("body")).to_contain_text(text, timeout=20_000)


def visible(locator: Any) -> None:
    """Wait until `locator` is visible: after a click that navigates, `is_visible()` asks at once and
    may ask the page before the new one is parsed (see `shows`)."""
    from playwright.sync_api import expect

    expect(locator).to_be_visible(timeout=20_000)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/screenshots/ with HUB_UPDATE_SCREENSHOTS=1, else a temporary folder."""
    if os.environ.get("HUB_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests are slow ones (a live hub and Chromium): the quick loop leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.slow)
