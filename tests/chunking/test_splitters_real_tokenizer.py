"""The chunker with the packaged model's own WordPiece tokenizer (tokenisation only, no forward pass)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbert_rag.chunking import Chunker, ChunkerConfig

pytestmark = pytest.mark.quality

_PIECES = [" ", ".", "\n\n", "Cells", "unaffable", "e\u0301", "😀", "漢字", "。", "\u200b", "\x00", "ﬁ", "(n = 17)", "IL-6"]


def _check(text: str, chunker: Chunker, title: str) -> None:
    chunks = chunker.split("d", text, title=title)
    counts = chunker.counter.count_tokens([chunker.passage_text(c) for c in chunks])
    assert max(counts) <= chunker.max_tokens
    covered = set()
    for c in chunks:
        assert c.text == text[c.start:c.end]
        covered.update(range(c.start, c.end))
    assert all(i in covered or ch.isspace() for i, ch in enumerate(text))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=120), title=st.sampled_from(["", "A title"]))
def test_split_real_tokenizer_nasty_strings(default_encoder, pieces: list[str], title: str) -> None:
    text = "".join(pieces)
    if not text.strip() and not title:
        return
    _check(text, Chunker(default_encoder, ChunkerConfig(max_tokens=24, overlap_tokens=4)), title)


def test_split_real_tokenizer_long_abstract_fits_model(default_encoder) -> None:
    sentence = "Interleukin-6 signalling modulates hepatic acute-phase responses in murine models. "
    text = sentence * 60  # about 900 tokens
    chunker = Chunker(default_encoder)
    chunks = chunker.split("d", text, title="A study of IL-6")
    assert len(chunks) >= 4
    assert all(c.text.endswith(".") for c in chunks)  # cut at sentence ends
    _check(text, chunker, "A study of IL-6")
