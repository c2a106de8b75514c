"""Every console page in French, Arabic, Portuguese and Spanish, in Chromium at 1280 and 360 px: the page's
lang and dir, no English message left on it, no sideways scroll, axe-core clean, and under 200 kB with its
assets. One browser, one signed-in context per language (its Accept-Language chooses the language)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from babel.messages.pofile import read_po

from hub.console import i18n
from tests.browser.conftest import AXE
from tests.console.conftest import PASSWORD

PAGES = [
    "/console/",
    "/console/search?q=203.0.113.7",
    "/console/downloads",
    "/console/inside",
    "/console/keys",
    "/console/account",
    "/console/objects/{emotet}",
    "/console/groups/africa/",
    "/console/groups/africa/members",
    "/console/groups/africa/invitations",
    "/console/groups/africa/collections",
    "/console/groups/africa/feeds",
    "/console/groups/africa/benign",
    "/console/groups/africa/audit",
    "/console/groups/africa/explain?object={emotet}",
]
WIDTHS = (1280, 360)
MIN_FRAGMENT = 16  # shorter English runs may be names or values ("Emotet", "cert-a", "indicator")
SPLIT = re.compile(r"%\(\w+\)s|\{\w*\}|<[^>]+>")
# the visible words of a page, without what is data rather than the console's own words: the STIX JSON,
# codes and values, and the audit log's stored event details
VISIBLE = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, #events td:last-child').forEach(e => e.remove());
  const labels = [...document.querySelectorAll('[aria-label], [placeholder], [title]')]
    .map(e => ['aria-label', 'placeholder', 'title'].map(a => e.getAttribute(a) || '').join(' '));
  return copy.innerText + '\\n' + labels.join('\\n') + '\\n' + document.title;
}"""


def english_fragments(code: str) -> list[str]:
    """The runs of English in the catalogue's messages that the language says differently: none of them
    may be left on a page drawn in that language."""
    with (i18n.LOCALE_DIR / code / "LC_MESSAGES" / "messages.po").open("rb") as f:
        cat = read_po(f, locale=code)
    found = set()
    for m in cat:
        if not m.id:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strs = [m.string] if isinstance(m.string, str) else list(m.string)
        for msgid in ids:
            for part in SPLIT.split(msgid):
                part = part.strip(" .,;:()'\"")
                if len(part) >= MIN_FRAGMENT and " " in part and not any(part in s for s in strs):
                    found.add(part)
    return sorted(found)


@pytest.mark.parametrize("code", [c for c in i18n.LANGUAGES if c != i18n.DEFAULT])
def test_every_page_speaks_the_language_fits_360_px_and_passes_axe(browser: Any, hub: Any, code: str) -> None:
    language = i18n.LANGUAGES[code]
    english = english_fragments(code)
    assert len(english) > 100  # the check has something to find
    emotet = next(o["id"] for o in hub.objects if o.get("name") == "Emotet")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=code, bypass_csp=True)
    page = context.new_page()
    axe = AXE.read_text()
    # the stylesheet and htmx, measured once: every page loads them (cached after the first)
    assets = sum(
        len(context.request.get(f"{hub.base}/console/static/{name}").body())
        for name in ("console.css", "htmx.min.js")
    )
    problems: list[str] = []
    try:
        # the check finds English where there is some: the same page asked for in English
        in_english = browser.new_page(locale="en-GB")
        in_english.goto(f"{hub.base}/console/sign-in")
        assert len([f for f in english if f in in_english.evaluate(VISIBLE)]) >= 2
        in_english.close()
        page.goto(f"{hub.base}/console/sign-in")
        _check(page, language, english, problems, "/console/sign-in", axe)
        page.locator("#user").fill("person@cert-a")
        page.locator("#password").fill(PASSWORD)
        page.locator("form.stack button[type=submit]").click()
        page.wait_for_url(f"{hub.base}/console/")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900 if width > 400 else 780})
            for path in PAGES:
                url = hub.base + path.format(emotet=emotet)
                response = page.goto(url, wait_until="load")
                assert response is not None and response.status == 200, (
                    code,
                    path,
                    response and response.status,
                )
                size = len(response.body()) + assets
                if size >= 200_000:
                    problems.append(f"{path}: {size} bytes with its assets")
                if width == 360:
                    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                    if overflow > 0:
                        problems.append(f"{path} at 360 px scrolls sideways by {overflow}px")
                _check(page, language, english, problems, f"{path} at {width} px", axe)
    finally:
        context.close()
    assert problems == [], f"{code}:\n" + "\n".join(problems)


def _check(
    page: Any, language: i18n.Language, english: list[str], problems: list[str], where: str, axe: str
) -> None:
    lang, direction = page.evaluate("[document.documentElement.lang, document.documentElement.dir]")
    if (lang, direction) != (language.code, language.dir):
        problems.append(f"{where}: lang={lang!r} dir={direction!r}")
    text = page.evaluate(VISIBLE)
    left = [fragment for fragment in english if fragment in text]
    if left:
        problems.append(f"{where}: English left: {left[:5]}")
    page.add_script_tag(content=axe)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    if bad:
        problems.append(f"{where}: axe {bad}")
