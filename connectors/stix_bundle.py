"""STIX 2.1 bundles and TAXII envelopes pass through; STIX 2.0 bundles are upgraded to 2.1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from connectors.base import Connector, Normalised, Rejected, Result, excerpt
from connectors.tlp import TLP_OF_MARKING, marking_ref
from hub.vocab.stix import SCO_TYPES

_ID = re.compile(r"([a-z0-9][a-z0-9-]*[a-z0-9])--[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\Z")

# STIX 2.0 made `labels` carry the type vocabulary of these objects; 2.1 moved it to a `*_types`
# property and left `labels` for free tagging (as the stix2-elevator does).
_LABELS_TO_TYPES = {
    "indicator": "indicator_types",
    "malware": "malware_types",
    "tool": "tool_types",
    "threat-actor": "threat_actor_types",
    "report": "report_types",
}
# Objects the feed's TLP is not added to: markings themselves, and SCOs, whose ids are shared by
# every producer.
_UNMARKED_TYPES = SCO_TYPES | {"marking-definition", "extension-definition", "language-content"}


def _upgrade(obj: dict[str, Any]) -> dict[str, Any]:
    """Upgrade one STIX 2.0 object to 2.1; raises ValueError when it cannot be."""
    stix_type = obj["type"]
    new = {"type": stix_type, "spec_version": "2.1"}
    new.update((k, v) for k, v in obj.items() if k not in ("type", "spec_version"))
    types_key = _LABELS_TO_TYPES.get(stix_type)
    if types_key and "labels" in new and types_key not in new:
        labels = new.pop("labels")
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise ValueError(f"{stix_type} labels is not a list of strings")
        new[types_key] = labels
    if stix_type == "indicator":
        if not isinstance(new.get("pattern"), str):
            raise ValueError("indicator has no pattern")
        new.setdefault("pattern_type", "stix")
        new.setdefault("valid_from", new.get("created"))
    elif stix_type == "malware":
        new.setdefault("is_family", True)
    elif stix_type == "identity":
        new.setdefault("identity_class", "unknown")
    elif stix_type == "observed-data" and not (new.get("objects") or new.get("object_refs")):
        raise ValueError("observed-data has no objects")
    return new


class StixBundleConnector(Connector):
    """A STIX bundle, a TAXII envelope (`{"objects": [...]}`) or a single object."""

    format_name = "stix"

    def _normalise(self, raw: bytes) -> Iterator[Result]:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield Rejected("input", f"not JSON: {exc}", excerpt(raw))
            return
        if isinstance(doc, dict) and isinstance(doc.get("objects"), list):
            objects: list[Any] = doc["objects"]
            bundle_version = doc.get("spec_version") if doc.get("type") == "bundle" else None
        elif isinstance(doc, dict) and "type" in doc and doc.get("type") != "bundle":
            objects, bundle_version = [doc], None
        elif isinstance(doc, dict) and doc.get("type") == "bundle":
            return  # a bundle with no objects
        else:
            yield Rejected("input", "not a STIX bundle, TAXII envelope or STIX object", excerpt(raw))
            return
        # A 2.0 bundle says so at bundle level; its objects carry no spec_version of their own.
        is_20_bundle = bundle_version == "2.0"
        for index, obj in enumerate(objects):
            ref = f"object {index}"
            result = self._one(obj, ref, is_20_bundle)
            if result is not None:
                yield result

    def _one(self, obj: Any, ref: str, is_20_bundle: bool) -> Result | None:
        if not isinstance(obj, dict):
            return Rejected(ref, "not a JSON object", excerpt(orjson.dumps(obj)))
        stix_type, stix_id = obj.get("type"), obj.get("id")
        if not isinstance(stix_type, str) or not isinstance(stix_id, str):
            return Rejected(ref, "missing type or id", excerpt(orjson.dumps(obj)))
        match = _ID.match(stix_id)
        if match is None or match.group(1) != stix_type:
            return Rejected(ref, f"id {stix_id[:80]!r} does not match type {stix_type[:40]!r}", "")
        ref = f"{ref} ({stix_id})"
        version = obj.get("spec_version")
        if version is None and (is_20_bundle or stix_type not in SCO_TYPES):
            try:
                obj = _upgrade(obj)
            except (ValueError, TypeError, KeyError) as exc:
                return Rejected(ref, f"cannot upgrade STIX 2.0 object: {exc}", excerpt(orjson.dumps(obj)))
        elif version is not None and version != "2.1":
            return Rejected(ref, f"unsupported spec_version {str(version)[:20]!r}", "")
        if stix_type not in _UNMARKED_TYPES:
            obj = self._mark(obj)
        return Normalised(obj, ref)

    def _mark(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Give an object without a TLP marking the feed's TLP, so it never falls below what was declared."""
        refs = obj.get("object_marking_refs")
        if isinstance(refs, list) and any(ref in TLP_OF_MARKING for ref in refs):
            return obj
        marking = marking_ref(self.settings.tlp, self.settings.tlp_version)
        new = dict(obj)
        new["object_marking_refs"] = [*(refs if isinstance(refs, list) else []), marking]
        return new
