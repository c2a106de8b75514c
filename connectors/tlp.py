"""TLP as the connectors write it: the vocabulary's levels (`hub.vocab.tlp`) as the words feeds use.

Feed settings and drafts carry a level as its word (`"amber+strict"`); the ids, the names read and the
order are the vocabulary's, so a name a feed writes means here what it means to the hub.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.vocab.tlp import TLP1_IDS as _TLP1_IDS
from hub.vocab.tlp import TLP2_IDS as _TLP2_IDS
from hub.vocab.tlp import TLP_LEVEL_BY_ID, TLP_WORDS, Tlp, read_tlp

TLP_LEVELS = TLP_WORDS
_TLP_RANK = {name: rank for rank, name in enumerate(TLP_LEVELS)}

TLP2_IDS = {level.word: ref for level, ref in _TLP2_IDS.items()}
TLP1_IDS = {
    **{level.word: ref for level, ref in _TLP1_IDS.items()},
    # TLP 1.0 has no AMBER+STRICT. Writing AMBER would lower the protection the source asked for, so
    # the TLP 2.0 id is written even for TLP 1.0 consumers: a consumer that does not know it treats
    # the object as carrying an unknown marking, which errs on the side of not sharing. (The hub's own
    # TLP 1.0 writer, `hub.vocab.tlp.marking_ids`, gives OpenCTI's id; the connectors keep the TLP 2.0
    # id so that re-importing a feed written with it gives the same bytes.)
    Tlp.AMBER_STRICT.word: _TLP2_IDS[Tlp.AMBER_STRICT],
}
# Every TLP marking id recognised on input, including OpenCTI's own AMBER+STRICT.
TLP_OF_MARKING: dict[str, str] = {ref: level.word for ref, level in TLP_LEVEL_BY_ID.items()}


def parse_tlp(text: str | None) -> str | None:
    """Return the TLP level named by `text` (`TLP:AMBER+STRICT`, `white`, `tlp:green`...), or None."""
    level = read_tlp(text)
    return None if level is None else level.word


def most_restrictive(levels: Iterable[str | None]) -> str | None:
    """Return the highest TLP among `levels`, ignoring None."""
    best: str | None = None
    for level in levels:
        if level is not None and (best is None or _TLP_RANK[level] > _TLP_RANK[best]):
            best = level
    return best


def marking_ref(level: str, tlp_version: int = 2) -> str:
    """Return the marking-definition id the hub writes for a TLP level."""
    return (TLP1_IDS if tlp_version == 1 else TLP2_IDS)[level]
