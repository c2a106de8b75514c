"""IntelMQ events as JSON lines (the file output's flat harmonised keys) to STIX indicators."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from connectors.base import Connector, Normalised, Rejected, Result, excerpt, split_lines
from connectors.normalise import Draft, InvalidValue, Value, build, parse_time, parse_value
from connectors.tlp import parse_tlp

# IntelMQ classification.type (RSIT taxonomy, plus the pre-2.0 names still seen in old bots) to the
# STIX 2.1 indicator-type-ov. The rule: what the listed value *is* from a defender's view:
# infrastructure run by an attacker is malicious-activity; a victim's machine is compromised; a proxy
# or Tor node is anonymization; a scanner or an IDS hit is anomalous-activity; a vulnerable or
# exposed service is no threat in itself, so unknown.
CLASSIFICATION_TYPES: dict[str, str] = {
    # malicious-code
    "c2-server": "malicious-activity",
    "malware-distribution": "malicious-activity",
    "malware-configuration": "malicious-activity",
    "infected-system": "compromised",
    # availability
    "ddos": "malicious-activity",
    "dos": "malicious-activity",
    "outage": "unknown",
    "sabotage": "malicious-activity",
    # information gathering
    "scanner": "anomalous-activity",
    "sniffing": "anomalous-activity",
    "social-engineering": "malicious-activity",
    # intrusion attempts
    "brute-force": "malicious-activity",
    "exploit": "malicious-activity",
    "ids-alert": "anomalous-activity",
    # intrusions
    "application-compromise": "compromised",
    "system-compromise": "compromised",
    "privileged-account-compromise": "compromised",
    "unprivileged-account-compromise": "compromised",
    "burglary": "compromised",
    "compromised": "compromised",
    "defacement": "compromised",
    # fraud
    "phishing": "malicious-activity",
    "masquerade": "malicious-activity",
    "copyright": "malicious-activity",
    "unauthorized-use-of-resources": "malicious-activity",
    # abusive content
    "spam": "malicious-activity",
    "harmful-speech": "anomalous-activity",
    "violence": "anomalous-activity",
    # information content security
    "data-leak": "compromised",
    "data-loss": "compromised",
    # vulnerable
    "vulnerable-system": "unknown",
    "vulnerable-service": "unknown",
    "ddos-amplifier": "unknown",
    "potentially-unwanted-accessible": "unknown",
    "information-disclosure": "unknown",
    "weak-crypto": "unknown",
    # other
    "blacklist": "malicious-activity",
    "tor": "anonymization",
    "proxy": "anonymization",
    "open-proxy": "anonymization",
    "test": "benign",
    "other": "unknown",
    "undetermined": "unknown",
    "unknown": "unknown",
    # names before the RSIT alignment (IntelMQ < 2.0)
    "c2server": "malicious-activity",
    "malware": "malicious-activity",
    "botnet-drone": "compromised",
    "infected-system-drone": "compromised",
    "dga-domain": "malicious-activity",
    "backdoor": "compromised",
    "leak": "compromised",
    "vulnerable-client": "unknown",
}

# The value an event reports, most specific first: a phishing URL also carries the shared hosting's
# IP, which must not become an indicator of its own.
_VALUE_KEYS = (
    ("source.url", "url"),
    ("source.fqdn", "domain"),
    ("source.ip", "ip"),
    ("source.network", "ip"),
    ("malware.hash.sha256", "sha256"),
    ("malware.hash.sha1", "sha1"),
    ("malware.hash.md5", "md5"),
    ("source.account", "email"),
)


def indicator_type(classification: Any) -> str | None:
    """Map an IntelMQ classification.type to the STIX indicator type, or None when unknown."""
    if not isinstance(classification, str):
        return None
    key = classification.strip().lower().replace("_", "-").replace(" ", "-")
    return CLASSIFICATION_TYPES.get(key)


def _text(event: dict[str, Any], key: str) -> str | None:
    value = event.get(key)
    return value if isinstance(value, str) and value.strip() else None


class IntelmqConnector(Connector):
    """One IntelMQ event per line; each becomes one indicator for its most specific value."""

    format_name = "intelmq"

    def _normalise(self, raw: bytes) -> Iterator[Result]:
        for number, line in split_lines(raw):
            if not line.strip():
                continue
            ref = f"line {number}"
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield Rejected(ref, f"not JSON: {exc}", excerpt(line))
                continue
            if not isinstance(event, dict):
                yield Rejected(ref, "not a JSON object", excerpt(line))
                continue
            try:
                draft = self._draft(event)
            except InvalidValue as exc:
                yield Rejected(ref, str(exc), excerpt(line))
                continue
            for obj in build(draft, self.settings):
                yield Normalised(obj, ref)

    def _draft(self, event: dict[str, Any]) -> Draft:
        value: Value | None = None
        for key, value_kind in _VALUE_KEYS:
            text = _text(event, key)
            if text is not None:
                try:
                    value = parse_value(text, value_kind)
                except InvalidValue as exc:
                    raise InvalidValue(f"{key}: {exc}") from None
                break
        if value is None:
            raise InvalidValue("event has no source.url, source.fqdn, source.ip or malware hash")
        observed = parse_time(event.get("time.observation"))
        source_time = parse_time(event.get("time.source"))
        labels = [
            label
            for label in (_text(event, "classification.taxonomy"), _text(event, "classification.type"))
            if label
        ]
        malware = _text(event, "malware.name")
        if malware:
            labels.append(malware)
        kind = indicator_type(event.get("classification.type"))
        confidence = None
        accuracy = event.get("feed.accuracy")
        if isinstance(accuracy, int | float) and not isinstance(accuracy, bool) and 0 <= accuracy <= 100:
            confidence = int(accuracy)
        refs: list[dict[str, str]] = []
        feed_name = _text(event, "feed.name")
        if feed_name:
            ref = {"source_name": feed_name}
            feed_url = _text(event, "feed.url")
            ref["url" if feed_url else "description"] = feed_url or "IntelMQ feed"
            refs.append(ref)
        description = _text(event, "event_description.text")
        # time.source is the source's own timestamp; time.observation changes on every fetch, so it
        # is only a fallback (using it as `modified` would store a new version every run).
        when = source_time or observed
        return Draft(
            value,
            first_seen=when,
            last_seen=when,
            tlp=parse_tlp(event.get("tlp")),
            labels=labels,
            indicator_types=[kind] if kind else None,
            confidence=confidence,
            description=description,
            external_references=refs,
        )
