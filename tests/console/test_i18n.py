"""The console in French, Arabic, Portuguese and Spanish: complete catalogues, the language a page is drawn in
(the account's setting, else Accept-Language, else English), lang and dir, dates and numbers, policy
explanations translated, and the API left in English."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from hub.console import i18n
from hub.policy.words import Phrase, say
from tests.console.conftest import csrf_of
from tests.factories import TAXII, indicator

ROOT = Path(__file__).resolve().parents[2]
LANGS = [code for code in i18n.LANGUAGES if code != i18n.DEFAULT]
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w*\}")
TAG = re.compile(r"</?([a-z]+)")


def _method_map() -> tuple[list[tuple[str, str]], dict[str, dict[str, str]]]:
    """babel.cfg, read as pybabel reads it."""
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open() as f:
        return parse_mapping_cfg(f)


def source_messages() -> dict[Any, str]:
    """Every message the sources mark (templates, N_ and Phrase), as pybabel extract finds them."""
    method_map, options = _method_map()
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "Phrase": None}
    found: dict[Any, str] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options, keywords=keywords
    ):
        if message:
            found.setdefault(message, filename)
    return found


def catalogue(code: str) -> dict[Any, Any]:
    """A language's .po file: msgid (a tuple for plurals) -> msgstr (a tuple for plurals)."""
    path = i18n.LOCALE_DIR / code / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        cat = read_po(f, locale=code)
    assert not [m.id for m in cat if m.fuzzy and m.id], f"{code}: fuzzy entries are not shown"
    return {m.id: m.string for m in cat if m.id}


@pytest.fixture(scope="module")
def sources() -> dict[Any, str]:
    return source_messages()


def test_the_sources_mark_the_consoles_messages(sources):
    # the extraction itself is checked, so a broken babel.cfg cannot make every catalogue look complete
    assert "Sign in" in sources and "Members of %(group)s" in sources
    assert "{reader} is not a member of group {group}" in sources  # a policy reason (Phrase)
    assert "The member was changed." in sources  # a confirmation (N_)
    assert len(sources) > 300


@pytest.mark.parametrize("code", LANGS)
def test_every_message_is_translated_with_its_placeholders(sources, code):
    cat = catalogue(code)
    missing = [f"{m!r} ({where})" for m, where in sources.items() if m not in cat]
    assert not missing, f"{code} lacks {len(missing)} messages: " + "; ".join(missing[:20])
    stale = [m for m in cat if m not in sources]
    assert not stale, f"{code} has messages no source uses any more: {stale[:10]}"
    for msgid, msgstr in cat.items():
        ids = (msgid,) if isinstance(msgid, str) else tuple(msgid)
        strs = (msgstr,) if isinstance(msgstr, str) else tuple(msgstr)
        assert all(s.strip() for s in strs), f"{code}: empty translation of {msgid!r}"
        want = sorted(PLACEHOLDER.findall(ids[-1]))
        tags = sorted(TAG.findall(ids[-1]))
        for s in strs:
            assert sorted(PLACEHOLDER.findall(s)) == want, f"{code}: placeholders of {msgid!r} in {s!r}"
            assert sorted(TAG.findall(s)) == tags, f"{code}: HTML tags of {msgid!r} in {s!r}"
            assert all(label in s for label in re.findall(r"TLP:[A-Z+]+", ids[-1])), (code, msgid, s)


@pytest.mark.parametrize("code", LANGS)
def test_a_catalogue_is_compiled_from_its_po_file(code):
    t = i18n.translations(code)
    assert t.gettext("Sign in") != "Sign in"
    assert t.gettext("no such message, kept as it is") == "no such message, kept as it is"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("fr-CH, fr;q=0.9, en;q=0.8", "fr"),
        ("de, ar;q=0.5, en;q=0.4", "ar"),
        ("pt-BR", "pt"),
        ("es-419,es;q=0.9", "es"),
        ("en-GB, fr;q=0.9", "en"),
        ("de, *;q=0.5", "en"),
        ("fr;q=0, es", "es"),
        ("", "en"),
        ("garbage;q=x,,;", "en"),
    ],
)
def test_accept_language_picks_the_first_language_spoken(header, code):
    assert i18n.choose(None, header).code == code


@given(st.text(max_size=300))
def test_any_accept_language_header_gives_a_language(header):
    assert i18n.choose(None, header).code in i18n.LANGUAGES


def test_dates_and_numbers_follow_the_locale():
    when = datetime(2026, 12, 7, 6, 45, tzinfo=UTC)
    shown = {}
    for code in i18n.LANGUAGES:
        with i18n.speaking(i18n.LANGUAGES[code]):
            shown[code] = (i18n.when(when), i18n.when(date(2026, 12, 7)), i18n.number(12345))
    assert shown["en"] == ("Dec 7, 2026, 06:45", "Dec 7, 2026", "12,345")
    assert shown["fr"][0].startswith("7 déc. 2026") and shown["fr"][2] == "12\u202f345"
    assert shown["es"][1] == "7 dic 2026" and shown["pt"][2] == "12.345"
    assert "2026" in shown["ar"][0] and "06:45" in shown["ar"][0]
    with i18n.speaking(i18n.LANGUAGES["fr"]):
        assert i18n.when(1_765_090_000_000_000) == i18n.when(datetime.fromtimestamp(1_765_090_000, UTC))
        assert i18n.when("2026-12-07") == "7 déc. 2026" and i18n.when("not a date") == "not a date"


def test_a_phrase_is_its_english_text_and_says_it_in_another_language():
    reason = Phrase("{reader} is not a member of group {group}", reader="cert-x", group="africa")
    assert reason == "cert-x is not a member of group africa" and orjson.dumps(reason) == orjson.dumps(
        str(reason)
    )
    fr = i18n.translations("fr").gettext
    assert say(reason, fr) == "cert-x n'est pas membre du groupe africa"
    nested = Phrase.joined(
        "\n", [Phrase("{head}: {reason}.", head=Phrase("no community"), reason=reason), "x"]
    )
    assert nested == "no community: cert-x is not a member of group africa.\nx"
    assert say(nested, fr) == "aucune communauté : cert-x n'est pas membre du groupe africa.\nx"
    # a damaged translation (a placeholder renamed) falls back to the English, never to an error
    assert say(reason, lambda s: s.replace("{group}", "{groupe}")) == str(reason)


# ---------------------------------------------------------------- through the console


def _lang_of(html: str) -> tuple[str, str]:
    found = re.search(r'<html lang="([a-z]+)" dir="(ltr|rtl)">', html)
    assert found, html[:200]
    return found.group(1), found.group(2)


def test_the_sign_in_page_follows_accept_language(client, people):
    for header, lang, direction, words in (
        ("fr-FR,fr;q=0.9", "fr", "ltr", "Se connecter"),
        ("ar", "ar", "rtl", "تسجيل الدخول"),
        ("pt-PT", "pt", "ltr", "Iniciar sessão"),
        ("es", "es", "ltr", "Iniciar sesión"),
        ("de", "en", "ltr", "Sign in"),
    ):
        page = client.get("/console/sign-in", headers={"Accept-Language": header})
        assert _lang_of(page.text) == (lang, direction)
        assert f"<h1>{words}</h1>" in page.text
        assert page.headers["content-language"] == lang and "Accept-Language" in page.headers["vary"]


def test_a_wrong_sign_in_is_answered_in_the_browsers_language(client, people):
    page = client.get("/console/sign-in", headers={"Accept-Language": "es"})
    r = client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(page.text), "user": "person@cert-a", "password": "wrong password!"},
        headers={"Accept-Language": "es"},
    )
    assert r.status_code == 401 and "El nombre, la contraseña o el código no es correcto." in r.text


def _set_language(c: Any, code: str) -> Any:
    page = c.get("/console/account")
    return c.post(
        "/console/account/language",
        data={"csrf": csrf_of(page.text), "language": code},
        follow_redirects=False,
    )


def test_the_accounts_language_wins_over_accept_language(as_person):
    c = as_person("cert-a")
    r = _set_language(c, "ar")
    assert r.status_code == 303
    page = c.get(r.headers["location"], headers={"Accept-Language": "fr"})
    assert _lang_of(page.text) == ("ar", "rtl")
    assert "حُفظت لغة وحدة التحكم." in page.text  # the confirmation, in the chosen language
    assert '<option value="ar" lang="ar" selected>' in page.text
    # back to the browser's language
    assert _set_language(c, "").status_code == 303
    assert _lang_of(c.get("/console/", headers={"Accept-Language": "fr"}).text) == ("fr", "ltr")
    assert _lang_of(c.get("/console/").text) == ("en", "ltr")


def test_an_unknown_language_is_refused_with_a_422(as_person):
    c = as_person("cert-a")
    r = _set_language(c, "xx")
    assert r.status_code == 422 and "language: one of en, fr, ar, pt, es" in r.text
    assert _lang_of(c.get("/console/").text) == ("en", "ltr")


def test_the_language_form_needs_the_csrf_token(as_person):
    c = as_person("cert-a")
    r = c.post("/console/account/language", data={"csrf": "forged", "language": "fr"})
    assert r.status_code == 403
    assert _lang_of(c.get("/console/").text) == ("en", "ltr")


def test_a_language_is_one_accounts_own(as_person):
    _set_language(as_person("cert-a"), "pt")
    assert _lang_of(as_person("cert-b").get("/console/").text) == ("en", "ltr")
    assert _lang_of(as_person("cert-a").get("/console/").text) == ("pt", "ltr")


def test_policy_explanations_are_translated_on_the_object_page(client, people, as_person):
    amber = indicator(31, tlp="amber")
    r = client.post(
        people.objects_url(),
        content=orjson.dumps({"objects": [amber]}),
        headers={**people.auth("cert-a"), "Content-Type": TAXII},
    )
    assert r.status_code == 202
    c = as_person("cert-a")
    english = c.get(f"/console/objects/{amber['id']}").text
    assert "cert-a produced it and always sees its own objects" in english
    _set_language(c, "fr")
    french = html.unescape(c.get(f"/console/objects/{amber['id']}").text)
    assert "cert-a l'a produit et voit toujours ses propres objets" in french
    assert "produced it and always sees" not in french
    assert "TLP:AMBER" in french  # TLP labels are never translated


def test_the_api_stays_english_whatever_the_browser_asks(client, people):
    headers = {**people.auth("cert-a"), "Accept-Language": "fr"}
    r = client.get(people.objects_url() + "?added_after=yesterday", headers=headers)
    assert r.status_code == 400 and r.json()["title"] == "Bad request"
    assert "content-language" not in r.headers


def test_a_hidden_objects_404_stays_byte_identical_to_an_absent_ones_in_french(client, people, as_person):
    amber = indicator(78, tlp="amber")
    client.post(
        people.objects_url(),
        content=orjson.dumps({"objects": [amber]}),
        headers={**people.auth("cert-b"), "Content-Type": TAXII},
    )
    c = as_person("vendor")
    _set_language(c, "fr")
    hidden = c.get(f"/console/objects/{amber['id']}")
    absent = c.get("/console/objects/" + amber["id"][:-12] + "000000000000")
    assert hidden.status_code == absent.status_code == 404
    assert _lang_of(hidden.text) == ("fr", "ltr") and "Introuvable" in hidden.text
    assert hidden.text.replace(amber["id"], "X") == absent.text.replace(
        absent.url.path.rsplit("/", 1)[1], "X"
    )


def _walk(c: Any, pages: list[str]) -> Iterator[tuple[str, str]]:
    for path in pages:
        r = c.get(path)
        assert r.status_code == 200, (path, r.status_code)
        yield path, r.text


@pytest.mark.parametrize("code", LANGS)
def test_every_page_is_drawn_in_the_chosen_language(as_person, code):
    c = as_person("cert-a")
    _set_language(c, code)
    pages = [
        "/console/", "/console/account", "/console/keys", "/console/search?q=203.0.113.7",
        "/console/downloads", "/console/inside",
        "/console/groups/africa/", "/console/groups/africa/members", "/console/groups/africa/invitations",
        "/console/groups/africa/collections", "/console/groups/africa/feeds", "/console/groups/africa/benign",
        "/console/groups/africa/audit", "/console/groups/africa/explain",
    ]  # fmt: skip
    sign_out = i18n.translations(code).gettext("Sign out")
    for path, text in _walk(c, pages):
        assert _lang_of(text) == (code, "rtl" if code == "ar" else "ltr"), path
        assert sign_out in html.unescape(text) and ">Sign out<" not in text, path


def test_a_search_the_hub_cannot_read_is_answered_in_the_accounts_language(as_person):
    c = as_person("cert-a")
    _set_language(c, "es")
    page = c.get("/console/search", params={"q": "not a value at all!"})
    assert page.status_code == 400
    assert "«not a value at all!» no es un valor que el hub busque" in html.unescape(page.text)


def test_an_explain_question_about_an_unknown_reader_is_answered_in_french(client, people, as_person):
    green = indicator(32, tlp="green")
    client.post(
        people.objects_url(),
        content=orjson.dumps({"objects": [green]}),
        headers={**people.auth("cert-a"), "Content-Type": TAXII},
    )
    c = as_person("cert-a")
    _set_language(c, "fr")
    page = c.get("/console/groups/africa/explain", params={"object": green["id"], "reader": "nobody-here"})
    text = html.unescape(page.text)
    assert "lecteur : aucune organisation de ce nom sur laquelle vous pouvez poser la question" in text
    page = c.get("/console/groups/africa/explain", params={"object": green["id"], "reader": "cert-b"})
    text = html.unescape(page.text)
    assert "cert-b peut voir " + green["id"] in text and "Publié dans le hub par cert-a" in text
