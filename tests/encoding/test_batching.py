"""Batch planning: every row once, sorted by length, within both caps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sbert_rag.encoding.batching import plan_batches


@given(
    st.lists(st.integers(min_value=1, max_value=300), max_size=200),
    st.integers(min_value=1, max_value=40),
    st.one_of(st.none(), st.integers(min_value=1, max_value=3000)),
)
def test_plan_batches_covers_every_row_once_within_caps(lengths, batch_size, budget) -> None:
    batches = plan_batches(lengths, batch_size, budget)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    for b in batches:
        assert 1 <= len(b) <= batch_size
        if budget is not None and len(b) > 1:
            assert max(lengths[i] for i in b) * len(b) <= budget
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
