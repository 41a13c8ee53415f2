"""Hypothesis strategies shared by the chain-level tests."""

from __future__ import annotations

from hypothesis import strategies as st

leaf_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.binary(max_size=64),
    st.text(max_size=32),
)

values = st.recursive(leaf_values, lambda inner: st.lists(inner, max_size=6), max_leaves=40)
