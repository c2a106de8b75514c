"""Plain-text blocklists: one value a line, `#`/`;` comments, hosts-file lines, type detection."""

from __future__ import annotations

import re
from collections.abc import Iterator

from connectors.base import Connector, Normalised, Rejected, Result, excerpt, split_lines
from connectors.normalise import Draft, InvalidValue, build, parse_value

# A comment starts a line or follows whitespace: `#` inside a URL (`/a#frag`) is part of the value.
_INLINE_COMMENT = re.compile(r"\s[#;]")
# hosts-file sinkholes: `0.0.0.0 evil.example` lists the second token.
_SINKHOLES = frozenset({"0.0.0.0", "127.0.0.1", "::", "::1"})  # noqa: S104 - addresses in text, not a bind


class TextBlocklistConnector(Connector):
    """One indicator per non-comment line; the type of each value is detected."""

    format_name = "text"

    def _normalise(self, raw: bytes) -> Iterator[Result]:
        settings = self.settings
        for number, line in split_lines(raw):
            ref = f"line {number}"
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                yield Rejected(ref, "line is not UTF-8", excerpt(line))
                continue
            text = text.strip()
            if not text or text[0] in "#;":
                continue
            match = _INLINE_COMMENT.search(text)
            if match:
                text = text[: match.start()]
            tokens = text.split()
            if len(tokens) == 2 and tokens[0] in _SINKHOLES:
                tokens = tokens[1:]
            if len(tokens) != 1:
                yield Rejected(ref, "expected one value on the line", excerpt(line))
                continue
            try:
                value = parse_value(tokens[0])
            except InvalidValue as exc:
                yield Rejected(ref, str(exc), excerpt(line))
                continue
            for obj in build(Draft(value), settings):
                yield Normalised(obj, ref)
