"""Hypothesis strategies and settings shared by the property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SAFE_INT = st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
UTF8_TEXT = st.text(st.characters(codec="utf-8"), max_size=16)  # no lone surrogates
ANY_KEY = st.text(st.characters(codec="utf-8"), max_size=6)
FINITE = st.floats(allow_nan=False, allow_infinity=False)


def json_values(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[str] = UTF8_TEXT) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=20,
    )
