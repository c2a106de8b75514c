"""The console's languages: message catalogues (gettext .po files read with Babel), the language of a
request, and dates and numbers formatted for it. The API and the CLI stay English.

The catalogues are `hub/console/locale/<lang>/LC_MESSAGES/messages.po`, shipped as package data and
compiled in memory on first use (Babel's own reader and writer), so a clean clone or a wheel needs no
build step and there are no generated .mo files to keep in step. docs/i18n.md says how to add a language.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from hub.policy.words import say

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT = "en"


@dataclass(frozen=True)
class Language:
    """A language the console speaks: its code, its own name and its writing direction."""

    code: str
    name: str
    rtl: bool = False

    @property
    def dir(self) -> str:
        """The value of `<html dir>`."""
        return "rtl" if self.rtl else "ltr"


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English"),
        Language("fr", "Français"),
        Language("ar", "العربية", rtl=True),
        Language("pt", "Português"),
        Language("es", "Español"),
    )
}


def N_(message: str) -> str:
    """Mark a message for the catalogues where it is written; it is translated where it is shown."""
    return message


@cache
def translations(code: str) -> NullTranslations:
    """The compiled catalogue of a language (English, and a language without a catalogue, translate to
    themselves)."""
    po = LOCALE_DIR / code / "LC_MESSAGES" / "messages.po"
    if code == DEFAULT or not po.is_file():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=code)
    buf = io.BytesIO()
    write_mo(buf, catalog)  # fuzzy entries are left out, as msgfmt does
    buf.seek(0)
    return Translations(fp=buf)


def parse_accept_language(header: str) -> list[str]:
    """The primary language subtags of an Accept-Language header, most preferred first (RFC 9110 12.5.4)."""
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate(header.split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary and q > 0:
            ranked.append((-q, i, primary))
    return [code for _, _, code in sorted(ranked)]


def choose(setting: str | None, accept_language: str | None) -> Language:
    """The account's setting, else the first language of Accept-Language the console speaks, else English."""
    if setting in LANGUAGES:
        return LANGUAGES[setting]
    for code in parse_accept_language(accept_language or ""):
        if code in LANGUAGES:
            return LANGUAGES[code]
        if code == "*":
            break
    return LANGUAGES[DEFAULT]


# words the services give as values (roles, states, kinds, directions), shown translated with `|t`
VOCABULARY = (
    N_("reader"),
    N_("contributor"),
    N_("coordinator"),
    N_("platform admin"),
    N_("pending"),
    N_("redeemed"),
    N_("revoked"),
    N_("expired"),
    N_("active"),
    N_("rotated"),
    N_("suspended"),
    N_("pull"),
    N_("push"),
    N_("ok"),
    N_("failed"),
    N_("running"),
    N_("ip"),
    N_("domain"),
    N_("url"),
    N_("email"),
    N_("hash"),
    N_("network"),
    N_("healthy"),
    N_("failing"),
    N_("refused by peer"),
)
# the titles of the hub's errors (hub.errors), shown translated on the console's error pages
ERROR_TITLES = (
    N_("Bad request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Not found"),
    N_("Conflict"),
    N_("Unprocessable request"),
    N_("Not acceptable"),
    N_("Payload too large"),
    N_("Too many requests"),
    N_("Incomplete request"),
    N_("Unsupported media type"),
    N_("Method Not Allowed"),
    N_("Not Found"),
    N_("Internal server error"),
)

# the language of the page being rendered: set around one template render (a thread's own context)
_current: ContextVar[Language] = ContextVar("console_language", default=LANGUAGES[DEFAULT])


@contextmanager
def speaking(language: Language) -> Iterator[None]:
    """Render in `language` inside this block."""
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Language:
    """The language of the page being rendered."""
    return _current.get()


def gettext(message: str) -> str:
    """`message` in the current language."""
    return translations(_current.get().code).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message for `n`, in the current language."""
    return translations(_current.get().code).ngettext(singular, plural, n)


def translate(text: Any) -> str:
    """Text from a service (a policy phrase, or a message the catalogues list) in the current language."""
    if text is None:
        return ""
    if isinstance(text, str) and type(text) is str:
        return gettext(text) if text else text
    return say(text, gettext)


def _locale() -> Locale:
    return Locale.parse(_current.get().code)


def number(value: int | float | None) -> str:
    """A number with the current language's digits grouping and decimal sign."""
    if value is None:
        return ""
    return format_decimal(value, locale=_locale())


def when(value: datetime | date | int | str | None) -> str:
    """A date and time (UTC, 24-hour) or a date, as the current language writes them, month in words.

    Accepts a datetime, a date, microseconds since the epoch, or an ISO 8601 text (as the services give).
    """
    if value is None or value == "":
        return ""
    if isinstance(value, int):
        value = datetime.fromtimestamp(value / 1e6, UTC)
    elif isinstance(value, str):
        try:
            parsed: date = (
                date.fromisoformat(value)
                if len(value) == 10
                else datetime.fromisoformat(value.replace("Z", "+00:00"))
            )
        except ValueError:
            return value
        value = parsed
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo is not None else value
        locale = _locale()
        day = format_date(utc.date(), "medium", locale=locale)
        clock = format_time(utc.time(), "HH:mm", locale=locale)
        return str(locale.datetime_formats["medium"]).format(clock, day)
    return format_date(value, "medium", locale=_locale())
