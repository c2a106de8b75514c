"""Plain-text blocklists: comments, hosts-file lines, detection, broken lines."""

from __future__ import annotations

from connectors import FeedSettings, Rejected, collect
from connectors.text_blocklist import TextBlocklistConnector
from tests.connectors.conftest import assert_stix21, fixture_bytes


def _patterns(raw: bytes, settings: FeedSettings) -> list[str]:
    objects, _ = collect(TextBlocklistConnector(settings).normalise(raw))
    return [o["pattern"] for o in objects if o["type"] == "indicator"]


def test_blocklist_fixture_reads_every_value_and_names_every_broken_line(settings: FeedSettings) -> None:
    objects, summary = collect(TextBlocklistConnector(settings).normalise(fixture_bytes("blocklist.txt")))
    patterns = [o["pattern"] for o in objects]
    assert "[ipv4-addr:value = '203.0.113.77']" in patterns
    assert "[ipv6-addr:value = '2001:db8::1']" in patterns
    assert "[ipv4-addr:value = '198.51.100.0/24']" in patterns
    assert "[domain-name:value = 'evil2.example']" in patterns
    assert "[domain-name:value = 'b\u00fccher.example']" in patterns
    assert "[domain-name:value = 'xn--bcher-kva.example']" in patterns
    assert "[url:value = 'https://phish.example/login?next=/a#frag']" in patterns
    assert "[email-addr:value = 'user@bad-mail.example']" in patterns
    assert "[domain-name:value = 'ads.tracker.example']" in patterns
    assert "[file:hashes.'SHA-512' = '" + "cf83e1357eefb8bd" in "".join(patterns)
    assert len(patterns) == 14
    assert summary.rejected == 4
    assert summary.skipped == 1  # the duplicated 203.0.113.77
    assert any(reason.startswith("line 22: rejected") for reason in summary.reasons)
    assert_stix21(objects)


def test_comment_and_blank_lines_are_not_records(settings: FeedSettings) -> None:
    results = list(TextBlocklistConnector(settings).normalise(b"# one\n; two\n\n   \n"))
    assert results == []


def test_inline_comment_is_dropped_but_url_fragment_is_kept(settings: FeedSettings) -> None:
    assert _patterns(b"http://x.example/a#b # why\n", settings) == ["[url:value = 'http://x.example/a#b']"]


def test_non_utf8_line_is_rejected_and_the_next_line_still_read(settings: FeedSettings) -> None:
    results = list(TextBlocklistConnector(settings).normalise(b"\xff\xfe.example\nok.example\r\n"))
    assert isinstance(results[0], Rejected)
    assert results[0].reason == "line is not UTF-8"
    assert results[1].obj["pattern"] == "[domain-name:value = 'ok.example']"


def test_renormalising_the_same_list_gives_identical_output(settings: FeedSettings) -> None:
    raw = fixture_bytes("blocklist.txt")
    first = list(TextBlocklistConnector(settings).normalise(raw))
    assert list(TextBlocklistConnector(settings).normalise(raw)) == first
