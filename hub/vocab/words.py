"""Phrases: English text that keeps its template and values, so the console can say it in other languages.

A `Phrase` is a `str` (the English text, exactly as before), so the API, the CLI and the audit log use it
as they always did. It also remembers the template it was formatted from and its values; a surface with
a message catalogue calls `say(gettext)` to get the same sentence in its reader's language. Templates use
`str.format` fields (`{reader}`), which the catalogues keep as they are; values that are themselves
phrases are translated too. Marked for extraction as `Phrase("...")` and `N_("...")` (see `babel.cfg`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["N_", "Phrase", "say"]

Gettext = Callable[[str], str]


def N_(template: str) -> str:
    """Mark a template kept aside for a later `Phrase(template, ...)`, so the catalogues list it."""
    return template


class Phrase(str):
    """An English sentence formatted from a translatable template and its values."""

    template: str
    values: dict[str, Any]
    parts: tuple[Any, ...] | None
    sep: str

    def __new__(cls, template: str, **values: Any) -> Phrase:
        """`Phrase("{who} may read", who=...)`: the text is `template.format(**values)`."""
        self = super().__new__(cls, template.format(**values))
        self.template, self.values, self.parts, self.sep = template, values, None, ""
        return self

    @classmethod
    def joined(cls, sep: str, parts: Iterable[Any]) -> Phrase:
        """Parts (phrases or plain text) joined by `sep`; each phrase part is translated on its own."""
        items = tuple(parts)
        self = super().__new__(cls, sep.join(str(p) for p in items))
        self.template, self.values, self.parts, self.sep = "", {}, items, sep
        return self

    def say(self, gettext: Gettext) -> str:
        """This sentence in the language of `gettext` (English when the catalogue lacks it)."""
        if self.parts is not None:
            return self.sep.join(say(p, gettext) for p in self.parts)
        template = gettext(self.template) if self.template else self.template
        values = {k: say(v, gettext) for k, v in self.values.items()}
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):  # a damaged translation: the English is still right
            return self.template.format(**values)


def say(text: Any, gettext: Gettext) -> str:
    """`text` in the language of `gettext` when it is a phrase; any other value as it is."""
    if isinstance(text, Phrase):
        return text.say(gettext)
    return text if isinstance(text, str) else str(text)
