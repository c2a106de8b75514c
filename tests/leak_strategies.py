"""What the leak property tests (TAXII, lookup, console) generate alike: members and their levels."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# TLP levels by name; None is an object without a marking (the group's default applies)
LEVELS = ["clear", "green", "amber", "amber+strict", "red", None]

# 2-4 organisations, each a (role, clearance); a role of None is an organisation outside the group
orgs_st = st.lists(
    st.tuples(st.sampled_from(["coordinator", "contributor", "reader", None]), st.sampled_from(LEVELS[:5])),
    min_size=2,
    max_size=4,
)


def leak_settings(max_examples: int) -> settings:
    """Hypothesis settings of a leak test: no deadline, fixtures shared across examples."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
