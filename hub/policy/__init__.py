"""TLP policy: pure rules over plain values (the SQL twin lives in `hub.policy.sql`, imported on its own)."""

from hub.policy.granular import GranularLevels, analyse, redact, storage_levels
from hub.policy.rules import (
    CollectionPolicy,
    Decision,
    Destination,
    GroupPolicy,
    Reader,
    Submitter,
    accept,
    may_read,
    may_redistribute,
    read_clearance,
    redistribution_ceiling,
)
from hub.policy.tlp import (
    MarkingConflict,
    MarkingIndex,
    Tlp,
    classify_marking,
    effective_tlp,
    marking_definition,
    marking_ids,
    tlp_of_ref,
)

__all__ = [
    "CollectionPolicy",
    "Decision",
    "Destination",
    "GranularLevels",
    "GroupPolicy",
    "MarkingConflict",
    "MarkingIndex",
    "Reader",
    "Submitter",
    "Tlp",
    "accept",
    "analyse",
    "classify_marking",
    "effective_tlp",
    "marking_definition",
    "marking_ids",
    "may_read",
    "may_redistribute",
    "read_clearance",
    "redact",
    "redistribution_ceiling",
    "storage_levels",
    "tlp_of_ref",
]
