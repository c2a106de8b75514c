"""The vocabulary the hub and the connectors share (`hub.vocab`): one reading of TLP names, the marking
ids, the SCO types, deterministic ids and the timestamp format; and the contracts that keep it a leaf the
connectors may import."""

from __future__ import annotations

import ast
import tomllib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import stix2
from hypothesis import given
from hypothesis import strategies as st

from connectors import tlp as connector_tlp
from hub.policy import tlp as policy_tlp
from hub.vocab.ids import IDENTITY_NAMESPACE, identity_id, sco_id
from hub.vocab.stix import SCO_ID_PROPERTIES, SCO_TYPES
from hub.vocab.time import EPOCH, format_ms, format_us, parse_us
from hub.vocab.tlp import TLP_LEVEL_BY_ID, TLP_WORDS, Tlp, marking_definition, marking_ids, read_tlp

ROOT = Path(__file__).resolve().parent.parent


# -- the import contracts ------------------------------------------------------------------------------


def _contract(name_start: str) -> dict[str, object]:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["name"].startswith(name_start)]
    return contract


def _hub_modules() -> set[str]:
    """Every top-level module and package of the hub."""
    found = set()
    for path in (ROOT / "hub").iterdir():
        if path.is_symlink():  # a checkout may link migrations/ in as hub/migrations: not the hub's source
            continue
        if path.suffix == ".py" and path.stem != "__init__":
            found.add(f"hub.{path.stem}")
        elif path.is_dir() and (path / "__init__.py").exists():
            found.add(f"hub.{path.name}")
    return found


@pytest.mark.parametrize("contract", ["connectors import nothing of the hub", "the vocabulary is a leaf"])
def test_the_contracts_forbid_every_hub_module_but_the_vocabulary(contract):
    """A module added to the hub later is forbidden too: the lists are checked against the tree."""
    forbidden = set(_contract(contract)["forbidden_modules"])
    assert "hub.vocab" not in forbidden
    assert _hub_modules() - {"hub.vocab"} <= forbidden


def test_the_package_inits_stay_trivial():
    """`import hub.vocab` from a connector runs hub/__init__.py and hub/vocab/__init__.py: nothing else."""
    for init in (ROOT / "hub/__init__.py", ROOT / "hub/vocab/__init__.py"):
        body = ast.parse(init.read_text()).body
        assert all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body), init


# -- TLP -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", list(Tlp))
def test_every_spelling_of_a_level_reads_back(level):
    for text in (level.word, level.label, level.name, level.label.lower(), f" tlp {level.word} "):
        assert read_tlp(text) is level
        assert Tlp.parse(text) is level
        assert connector_tlp.parse_tlp(text) == level.word
    assert read_tlp(level.word.replace("+", "-")) is level


def test_white_is_clear_and_the_words_are_in_order():
    assert read_tlp("TLP:WHITE") is Tlp.CLEAR
    assert TLP_WORDS == ("clear", "green", "amber", "amber+strict", "red")
    assert connector_tlp.TLP_LEVELS == TLP_WORDS


@given(st.one_of(st.text(max_size=30), st.none(), st.integers()))
def test_tlp_names_are_read_one_way_by_the_hub_and_the_connectors(text):
    level = read_tlp(text)
    assert connector_tlp.parse_tlp(text) == (None if level is None else level.word)
    if isinstance(text, str):
        if level is None:
            with pytest.raises(ValueError, match="unknown TLP level"):
                Tlp.parse(text)
        else:
            assert Tlp.parse(text) is level


@pytest.mark.parametrize("text", ["purple", "", "tlp", "TLP:", "amber strict", "tlp:tlp:red", "RED!", "0"])
def test_other_names_are_no_level(text):
    assert read_tlp(text) is None
    with pytest.raises(ValueError, match=f"unknown TLP level {text!r}: use clear, green, amber"):
        Tlp.parse(text)


def test_the_policy_and_the_connectors_use_the_vocabulary_ids():
    assert policy_tlp.Tlp is Tlp and policy_tlp.TLP_LEVEL_BY_ID is TLP_LEVEL_BY_ID
    assert {ref: level.word for ref, level in TLP_LEVEL_BY_ID.items()} == connector_tlp.TLP_OF_MARKING
    for level in Tlp:
        assert connector_tlp.marking_ref(level.word) == marking_ids(level) == marking_definition(level)["id"]
        assert marking_definition(level, 1)["id"] == marking_ids(level, 1)
        assert TLP_LEVEL_BY_ID[marking_ids(level, 1)] is level
        assert TLP_LEVEL_BY_ID[marking_ids(level, 2)] is level
    # TLP 1.0 has no AMBER+STRICT: the connectors write the TLP 2.0 id, the hub's writer OpenCTI's
    assert connector_tlp.marking_ref("amber+strict", 1) == marking_ids(Tlp.AMBER_STRICT, 2)
    assert marking_ids(Tlp.AMBER_STRICT, 1) == policy_tlp.OPENCTI_AMBER_STRICT_ID


def test_marking_definitions_are_fresh_copies():
    first = marking_definition(Tlp.RED)
    first["name"] = "changed"
    assert marking_definition(Tlp.RED)["name"] == "TLP:RED"


# -- STIX types and ids ---------------------------------------------------------------------------------


def test_the_sco_types_are_those_of_stix_2_1():
    assert frozenset(SCO_ID_PROPERTIES) == SCO_TYPES
    stix2_scos = {cls._type for cls in stix2.v21.observables.__dict__.values()
                  if isinstance(cls, type) and issubclass(cls, stix2.v21.base._Observable)
                  and getattr(cls, "_type", None)}  # fmt: skip
    assert stix2_scos == SCO_TYPES
    for cls in stix2.v21.observables.__dict__.values():
        if isinstance(cls, type) and getattr(cls, "_type", None) in SCO_TYPES:
            assert tuple(cls._id_contributing_properties) == SCO_ID_PROPERTIES[cls._type], cls._type


@given(st.ip_addresses(v=4).map(str) | st.from_regex(r"[a-z]{1,20}\.example", fullmatch=True))
def test_sco_ids_are_those_stix2_makes(value):
    cls = stix2.IPv4Address if value[0].isdigit() else stix2.DomainName
    assert sco_id(cls._type, {"value": value}) == cls(value=value).id


@given(st.from_regex(r"[a-z0-9][a-z0-9-]{0,63}", fullmatch=True))
def test_member_identity_ids_are_uuid5_of_the_slug(slug):
    assert identity_id(slug) == f"identity--{uuid.uuid5(IDENTITY_NAMESPACE, slug)}"


def test_a_member_identity_id_never_changes():
    assert identity_id("cert-mu") == "identity--" + str(
        uuid.uuid5(uuid.UUID("5d0b3c4e-6a57-4c55-9f0e-7c1f0f1a2b3c"), "cert-mu")
    )


# -- timestamps -----------------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=253_402_300_799_999_999))
def test_microseconds_and_their_text_round_trip(us):
    text = format_us(us)
    assert len(text) == 27 and text.endswith("Z")
    assert parse_us(text) == us
    assert datetime.fromisoformat(text) == EPOCH + timedelta(microseconds=us)


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31)))
def test_millisecond_text_is_a_stix_timestamp(when):
    text = format_ms(when.replace(tzinfo=UTC))
    assert parse_us(text) == (when.replace(tzinfo=UTC) - EPOCH) // timedelta(milliseconds=1) * 1000


@pytest.mark.parametrize(
    ("text", "word"),
    [("2024-02-30T00:00:00Z", "date"), ("2024-01-01T00:00:00", "format"), ("2024-01-01 00:00:00Z", "format"),
     ("2024-01-01T00:00:00.0000000000Z", "format"), ("2024-01-01T00:00:00.000Z" + "0" * 50, "format")],
)  # fmt: skip
def test_what_is_no_stix_timestamp_says_why(text, word):
    assert parse_us(text) == word


def test_digits_past_the_microsecond_are_cut():
    assert parse_us("2024-01-01T00:00:00.123456789Z") == parse_us("2024-01-01T00:00:00.123456Z")


@given(
    st.one_of(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32), st.just(4)),
        st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 128), st.just(6)),
    )
)
def test_enclosing_ranges_are_every_supernet_first_and_last_address(spec: tuple[int, int, int]) -> None:
    """`enclosing_ranges` (integer arithmetic) gives what `ipaddress` says the enclosing networks are."""
    import ipaddress

    from hub.vocab.values import enclosing_ranges, ip_range

    value, prefix, version = spec
    address = ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    expected = [ip_range(str(network.supernet(new_prefix=n))) for n in range(prefix + 1)]
    assert enclosing_ranges(network) == expected
