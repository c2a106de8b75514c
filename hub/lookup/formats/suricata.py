"""Suricata rules from the values device lists take.

One rule per value and kind of traffic: IP addresses and networks (`alert ip`, traffic from the home
network to them), domains in DNS queries (`dns.query`) and TLS server names (`tls.sni`), each with
its subdomains (`dotprefix`), and URLs by HTTP host and raw URI (`http.host`, `http.uri.raw`). File
hashes go in list files Suricata reads with `filemd5`, `filesha1` and `filesha256`: the rules file
holds one rule per algorithm that has hashes, naming `hub-<group>-<algorithm>.txt` in the rules
directory (the hub's `blocklist.txt?kind=hash&algorithm=...` with the same parameters; docs/exports.md).

SIDs are stable: a value's SID is the hash of the group, the kind of rule and the value, within the
configured range (HUB_SURICATA_SID_BASE, HUB_SURICATA_SID_RANGE); a collision takes the next free SID,
in the file's order (the order values were first added). `msg` holds only the group, the kind and the
value reduced to a safe alphabet: nothing from upstream free text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from sqlalchemy.orm import Session

from hub.lookup.downloads import Counter, DownloadFilters, device_values
from hub.lookup.formats.common import ascii_name, safe_text, url_parts
from hub.lookup.values import Value, url_host
from hub.trust.access import CollectionAccess
from hub.trust.service import Principal

# hash algorithms Suricata computes for files, and the keyword reading a list of each
HASH_KEYWORDS = {"MD5": "filemd5", "SHA-1": "filesha1", "SHA-256": "filesha256"}
_LIST_SUFFIX = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256"}
_SPECIAL = frozenset(b'";\\|')


def content(text: str) -> str:
    """A `content` argument matching `text` byte for byte: quotes, semicolons, backslashes, pipes,
    control and non-ASCII bytes written as |hex| (Suricata rule syntax)."""
    out: list[str] = []
    pending: list[str] = []
    for b in text.encode("utf-8"):
        if 0x20 <= b < 0x7F and b not in _SPECIAL:
            if pending:
                out.append("|" + " ".join(pending) + "|")
                pending = []
            out.append(chr(b))
        else:
            pending.append(f"{b:02x}")
    if pending:
        out.append("|" + " ".join(pending) + "|")
    return "".join(out)


def hash_list_name(group: str, algorithm: str) -> str:
    """The file a hash rule reads, in Suricata's rules directory."""
    return f"hub-{group}-{_LIST_SUFFIX[algorithm]}.txt"


class Sids:
    """Stable SIDs in [base, base + size): the hash of the rule's key, the next free one on collision."""

    def __init__(self, base: int, size: int, salt: str) -> None:
        self.base, self.size, self.salt = base, size, salt
        self.used: set[int] = set()

    def take(self, key: str) -> int | None:
        """The SID of `key`, or None when the range is full."""
        if len(self.used) >= self.size:
            return None
        digest = hashlib.sha256(f"{self.salt}|{key}".encode()).digest()
        slot = int.from_bytes(digest[:8], "big") % self.size
        while self.base + slot in self.used:
            slot = (slot + 1) % self.size
        self.used.add(self.base + slot)
        return self.base + slot


def _rules_of(v: Value) -> list[tuple[str, str]]:
    """(rule kind, rule body before msg) for one value."""
    if v.kind == "ip":
        return [("ip", f"alert ip $HOME_NET any -> [{v.value}] any")]
    if v.kind == "domain":
        return [("dns", "alert dns $HOME_NET any -> any any"), ("tls", "alert tls $HOME_NET any -> any any")]
    if v.kind == "url" and v.value.lower().startswith(("http://", "https://")):
        return [("http", "alert http $HOME_NET any -> any any")]
    return []


def _detection(kind: str, v: Value) -> str | None:
    if kind == "ip":
        return "threshold:type limit, track by_src, count 1, seconds 3600;"
    if kind in ("dns", "tls"):
        name = ascii_name(v.value)
        if name is None:
            return None
        buffer = "dns.query" if kind == "dns" else "tls.sni"
        return f'{buffer}; dotprefix; content:"{content("." + name)}"; nocase; endswith;'
    host = url_host(v.value)
    if not host:
        return None
    path = url_parts(v.value)[1]
    out = f'flow:established,to_server; http.host; content:"{content(host)}"; bsize:{len(host.encode())};'
    if path and path != "/":
        out += f' http.uri.raw; content:"{content(path)}"; startswith; endswith;'
    return out


def rules(
    session: Session,
    principal: Principal,
    accesses: list[CollectionAccess],
    f: DownloadFilters,
    *,
    group: str,
    sid_base: int,
    sid_range: int,
    counter: Counter | None = None,
) -> Iterator[bytes]:
    """`suricata.rules` of what the reader may see in `accesses`, as chunks of text."""
    yield (
        f"# Suricata rules of trust group {group}, from the hub's device values (fit, not known-benign,\n"
        f"# valid unless asked otherwise). SIDs {sid_base}-{sid_base + sid_range - 1}; hash rules read\n"
        f"# hub-{group}-<algorithm>.txt from the rules directory.\n"
    ).encode()
    sids = Sids(sid_base, sid_range, group)
    seen: set[tuple[str, str]] = set()
    hashes: set[str] = set()
    lines: list[str] = []
    full = False
    for row, v in device_values(session, principal, accesses, f):
        if v.kind == "hash":
            if v.algorithm in HASH_KEYWORDS:
                hashes.add(v.algorithm)
            continue
        for kind, head in _rules_of(v):
            if (kind, v.value) in seen:
                continue
            seen.add((kind, v.value))
            detection = _detection(kind, v)
            if detection is None:
                continue
            sid = sids.take(f"{kind}|{v.value}")
            if sid is None:
                full = True
                break
            msg = safe_text(f"HUB {group} {kind} {v.value}", 180)
            alias, level = row.access.collection.alias, row.tlp.name.lower()
            meta = f"hub_group {group}, hub_collection {alias}, tlp {level}"
            lines.append(
                f'{head} (msg:"{msg}"; {detection} classtype:trojan-activity; sid:{sid}; rev:1; '
                f"metadata:{meta};)"
            )
            if counter is not None:
                counter.add(row.access.collection.id)
        if full:
            break
        if len(lines) >= 500:
            yield ("\n".join(lines) + "\n").encode()
            lines = []
    for alg in sorted(hashes):
        sid = sids.take(f"hash|{alg}")
        if sid is None:
            full = True
            break
        lines.append(
            f'alert http any any -> any any (msg:"HUB {group} file {alg} on the hub list"; '
            f"{HASH_KEYWORDS[alg]}:{hash_list_name(group, alg)}; classtype:trojan-activity; "
            f"sid:{sid}; rev:1; metadata:hub_group {group};)"
        )
    if full:
        lines.append(f"# the SID range ({sid_range}) is full: the rules after this line were left out")
    if lines:
        yield ("\n".join(lines) + "\n").encode()
