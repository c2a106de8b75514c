"""STIX 2.1 type vocabulary the hub and the connectors share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["SCO_ID_PROPERTIES", "SCO_TYPES"]

# STIX 2.1 section 6: each cyber-observable type and its id-contributing properties (the same lists the
# stix2 library uses), from which its deterministic id is made (`hub.vocab.ids.sco_id`).
SCO_ID_PROPERTIES: Final[Mapping[str, tuple[str, ...]]] = {
    "artifact": ("hashes", "payload_bin"),
    "autonomous-system": ("number",),
    "directory": ("path",),
    "domain-name": ("value",),
    "email-addr": ("value",),
    "email-message": ("from_ref", "subject", "body"),
    "file": ("hashes", "name", "parent_directory_ref", "extensions"),
    "ipv4-addr": ("value",),
    "ipv6-addr": ("value",),
    "mac-addr": ("value",),
    "mutex": ("name",),
    "network-traffic": (
        "start",
        "end",
        "src_ref",
        "dst_ref",
        "src_port",
        "dst_port",
        "protocols",
        "extensions",
    ),
    "process": (),
    "software": ("name", "cpe", "swid", "vendor", "version"),
    "url": ("value",),
    "user-account": ("account_type", "user_id", "account_login"),
    "windows-registry-key": ("key", "values"),
    "x509-certificate": ("hashes", "serial_number"),
}

# The cyber-observable types. Their ids are deterministic and they carry no versions, so each
# publisher's copy is an object of its own in the hub.
SCO_TYPES: Final = frozenset(SCO_ID_PROPERTIES)
