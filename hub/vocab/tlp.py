"""TLP levels, how their names are read, and the TLP 1.0 / 2.0 marking definitions (ids and bodies).

How a marking reference on an object is judged (conflicting bodies, the effective TLP) is the policy's:
`hub.policy.tlp`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from enum import IntEnum
from typing import Any, Final, Literal

__all__ = [
    "OPENCTI_AMBER_STRICT_ID",
    "TLP1_IDS",
    "TLP2_EXTENSION_ID",
    "TLP2_IDS",
    "TLP_FAMILY_BY_ID",
    "TLP_LEVEL_BY_ID",
    "TLP_WORDS",
    "Tlp",
    "marking_definition",
    "marking_ids",
    "read_tlp",
]


class Tlp(IntEnum):
    """TLP levels, lowest to highest; stored as these integers."""

    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        """The level as people write it: TLP:AMBER+STRICT."""
        return "TLP:" + self.name.replace("_", "+")

    @property
    def word(self) -> str:
        """The level as configuration files and the admin API write it: amber+strict."""
        return self.name.lower().replace("_", "+")

    @classmethod
    def parse(cls, text: str) -> Tlp:
        """Read a TLP name as `read_tlp` does; ValueError naming the accepted names otherwise."""
        level = read_tlp(text)
        if level is None:
            raise ValueError(f"unknown TLP level {text!r}: use clear, green, amber, amber+strict or red")
        return level


# The names as files and the admin API write them, lowest to highest.
TLP_WORDS: Final = tuple(level.word for level in Tlp)

_BY_NAME: Final[Mapping[str, Tlp]] = {level.name: level for level in Tlp} | {"WHITE": Tlp.CLEAR}


def read_tlp(text: object) -> Tlp | None:
    """The TLP level a name stands for, or None: the one reading of TLP names in the hub and connectors.

    Case does not matter; a `TLP:` or `TLP ` prefix is optional (`TLP:AMBER`, `tlp: green`, MISP's
    `tlp:white`); `white` is TLP 1.0's name for CLEAR; AMBER+STRICT may be written with `+`, `-` or `_`.
    Anything else, and anything that is not a string, is None.
    """
    if not isinstance(text, str):
        return None
    name = text.strip().upper()
    if name.startswith(("TLP:", "TLP ")):
        name = name[4:].strip()
    return _BY_NAME.get(name.replace("+", "_").replace("-", "_"))


# The OASIS TLP 2.0 extension; its property `tlp_2_0` carries the level.
TLP2_EXTENSION_ID: Final = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

# TLP 1.0 has no AMBER+STRICT; OpenCTI's fixed id for it is what the field uses next to the 1.0 ids.
OPENCTI_AMBER_STRICT_ID: Final = "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"

TLP1_IDS: Final[Mapping[Tlp, str]] = {
    Tlp.CLEAR: "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",  # TLP:WHITE
    Tlp.GREEN: "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    Tlp.AMBER: "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    Tlp.AMBER_STRICT: OPENCTI_AMBER_STRICT_ID,
    Tlp.RED: "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}

TLP2_IDS: Final[Mapping[Tlp, str]] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

# Every id the hub knows without seeing its definition: one dict lookup per marking ref on ingest.
TLP_LEVEL_BY_ID: Final[Mapping[str, Tlp]] = {
    **{v: k for k, v in TLP1_IDS.items()},
    **{v: k for k, v in TLP2_IDS.items()},
}

# Which table each known id comes from, for explanations.
TLP_FAMILY_BY_ID: Final[Mapping[str, str]] = {
    **dict.fromkeys(TLP1_IDS.values(), "TLP 1.0"),
    OPENCTI_AMBER_STRICT_ID: "OpenCTI",
    **dict.fromkeys(TLP2_IDS.values(), "TLP 2.0"),
}


def _tlp1_object(level: Tlp) -> dict[str, Any]:
    if level is Tlp.AMBER_STRICT:
        # The shape OpenCTI and its connectors emit; stix2 accepts it, a TLP 1.0 body would not be.
        return {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": OPENCTI_AMBER_STRICT_ID,
            "created": "2022-10-01T00:00:00.000Z",
            "name": "TLP:AMBER+STRICT",
            "definition_type": "statement",
            "definition": {"statement": "custom"},
            "x_opencti_definition_type": "TLP",
            "x_opencti_definition": "TLP:AMBER+STRICT",
        }
    colour = "white" if level is Tlp.CLEAR else level.name.lower()
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP1_IDS[level],
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": "TLP:" + colour.upper(),
        "definition": {"tlp": colour},
    }


def _tlp2_object(level: Tlp) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_IDS[level],
        "created": "2022-10-01T00:00:00.000Z",
        "name": level.label,
        "extensions": {
            TLP2_EXTENSION_ID: {
                "extension_type": "property-extension",
                "tlp_2_0": level.word,
            }
        },
    }


_DEFINITIONS: Final[Mapping[tuple[Tlp, int], dict[str, Any]]] = {
    **{(lv, 1): _tlp1_object(lv) for lv in Tlp},
    **{(lv, 2): _tlp2_object(lv) for lv in Tlp},
}


def marking_ids(level: Tlp, version: Literal[1, 2] = 2) -> str:
    """The marking-definition id to write for `level`: TLP 2.0 by default, TLP 1.0 for older consumers.

    TLP 1.0 has no AMBER+STRICT; version 1 gives OpenCTI's fixed AMBER+STRICT id, which OpenCTI and this
    hub read as AMBER+STRICT. Consumers that know only WHITE/GREEN/AMBER/RED will not recognise it: a feed
    meant for them should not carry AMBER+STRICT at all (rounding down to AMBER would loosen the rule).
    """
    table = TLP2_IDS if version == 2 else TLP1_IDS
    return table[Tlp(level)]


def marking_definition(level: Tlp, version: Literal[1, 2] = 2) -> dict[str, Any]:
    """A fresh copy of the marking-definition object behind `marking_ids(level, version)`."""
    return copy.deepcopy(_DEFINITIONS[(Tlp(level), version)])
