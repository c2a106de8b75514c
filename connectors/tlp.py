"""TLP levels and the TLP 1.0 / 2.0 marking-definition ids the connectors read and write."""

from __future__ import annotations

from collections.abc import Iterable

TLP_LEVELS = ("clear", "green", "amber", "amber+strict", "red")
_TLP_RANK = {name: rank for rank, name in enumerate(TLP_LEVELS)}

TLP2_IDS = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP1_IDS = {
    "clear": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    # TLP 1.0 has no AMBER+STRICT. Writing AMBER would lower the protection the source asked for, so
    # the TLP 2.0 id is written even for TLP 1.0 consumers: a consumer that does not know it treats
    # the object as carrying an unknown marking, which errs on the side of not sharing.
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
# Every TLP marking id we recognise on input, including OpenCTI's own AMBER+STRICT.
TLP_OF_MARKING: dict[str, str] = {
    **{ref: level for level, ref in TLP2_IDS.items()},
    **{ref: level for level, ref in TLP1_IDS.items()},
    "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37": "amber+strict",
}

_TLP_ALIASES = {"white": "clear", "amber-strict": "amber+strict", "amber_strict": "amber+strict"}


def parse_tlp(text: str | None) -> str | None:
    """Return the TLP level named by `text` (`TLP:AMBER+STRICT`, `white`, `tlp:green`...), or None."""
    if not text or not isinstance(text, str):
        return None
    name = text.strip().lower()
    if name.startswith("tlp:"):
        name = name[4:]
    elif name.startswith("tlp "):
        name = name[4:].strip()
    name = _TLP_ALIASES.get(name, name)
    return name if name in _TLP_RANK else None


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
