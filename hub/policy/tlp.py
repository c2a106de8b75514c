"""TLP levels and their order (the TLP 1.0 / 2.0 marking tables live here too)."""

from __future__ import annotations

from enum import IntEnum


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

    @classmethod
    def parse(cls, text: str) -> Tlp:
        """Read 'amber+strict', 'TLP:AMBER', 'white' (TLP 1.0 for CLEAR) and the like."""
        t = text.strip().upper().removeprefix("TLP:").replace("-", "+").replace("_", "+")
        if t == "WHITE":
            return cls.CLEAR
        try:
            return cls[t.replace("+", "_")]
        except KeyError:
            raise ValueError(f"unknown TLP level {text!r}: use clear, green, amber, amber+strict or red") from None
