from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sbert_rag.chunking import Chunker, ChunkerConfig, passage_text
from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.types import Chunk, Role, TokenCounter

_TOKEN = re.compile(r"\w+|[^\w\s]")


class FakeCounter:
    """WordPiece-like: words cut into pieces of at most 4 characters, each other symbol one token.

    ``count_tokens`` adds 2 special tokens and ``prompt_tokens``; ``word_piece`` lets a test make
    counting disagree with ``token_offsets`` (as real tokenizers can at cut points).
    """

    def __init__(self, max_tokens: int = 64, prompt_tokens: int = 0, count_piece: int = 4) -> None:
        self._max = max_tokens
        self.prompt_tokens = prompt_tokens
        self.count_piece = count_piece
        self.calls = 0

    @property
    def max_tokens(self) -> int:
        return self._max

    @staticmethod
    def _spans(text: str, piece: int) -> list[tuple[int, int]]:
        spans = []
        for m in _TOKEN.finditer(text):
            for s in range(m.start(), m.end(), piece):
                spans.append((s, min(s + piece, m.end())))
        return spans

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return self._spans(text, 4)

    def count_tokens(self, texts, role: Role = Role.PASSAGE) -> list[int]:
        self.calls += 1
        extra = 2 + (self.prompt_tokens if role is Role.PASSAGE else 0)
        return [len(self._spans(t, self.count_piece)) + extra for t in texts]


def _check_invariants(text: str, chunks: list[Chunk], chunker: Chunker, counter: FakeCounter) -> None:
    covered = [False] * len(text)
    for i, c in enumerate(chunks):
        assert c.text == text[c.start:c.end]
        assert c.chunk_id == f"{c.doc_id}#{i}"
        assert c.text == c.text.strip()
        for j in range(c.start, c.end):
            covered[j] = True
    for j, ch in enumerate(text):
        assert covered[j] or ch.isspace(), f"character {j} {ch!r} is in no chunk"
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    counts = counter.count_tokens([chunker.passage_text(c) for c in chunks])
    assert max(counts) <= chunker.max_tokens


def test_counter_fake_satisfies_protocol() -> None:
    assert isinstance(FakeCounter(), TokenCounter)


def test_split_short_document_is_one_chunk() -> None:
    chunker = Chunker(FakeCounter(max_tokens=32), ChunkerConfig(overlap_tokens=4))
    (chunk,) = chunker.split("d1", "  A short text.  ", title="T")
    assert (chunk.text, chunk.start, chunk.end, chunk.chunk_id, chunk.title) == ("A short text.", 2, 15, "d1#0", "T")
    assert chunker.passage_text(chunk) == "T A short text."


def test_split_prefers_sentence_boundaries() -> None:
    text = "One two three four. Five six seven eight. Nine ten eleven twelve."
    # 6 + 7 + 7 tokens (words cut into 4-char pieces) + 2 special: the cut after "eight." fits 16
    chunker = Chunker(FakeCounter(max_tokens=16), ChunkerConfig(overlap_tokens=0, include_title=False))
    chunks = chunker.split("d", text)
    assert [c.text for c in chunks] == ["One two three four. Five six seven eight.", "Nine ten eleven twelve."]


def test_split_prefers_paragraph_over_sentence() -> None:
    text = "Aa bb. Cc dd.\n\nEe ff. Gg hh. Ii jj."
    chunker = Chunker(FakeCounter(max_tokens=14), ChunkerConfig(overlap_tokens=0, include_title=False))
    chunks = chunker.split("d", text)
    assert chunks[0].text == "Aa bb. Cc dd."


def test_split_overlap_repeats_tokens_at_word_starts() -> None:
    text = " ".join(f"w{i}" for i in range(40))
    chunker = Chunker(FakeCounter(max_tokens=12), ChunkerConfig(overlap_tokens=3, include_title=False))
    chunks = chunker.split("d", text)
    assert len(chunks) > 1
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end  # they overlap
        assert len(text[b.start:a.end].split()) == 3
        assert text[b.start - 1] == " "  # never starts inside a word


def test_split_title_counts_against_the_budget() -> None:
    counter = FakeCounter(max_tokens=12)
    text = " ".join(f"w{i}" for i in range(30))
    with_title = Chunker(counter, ChunkerConfig(overlap_tokens=0)).split("d", text, title="a b c d")
    without = Chunker(counter, ChunkerConfig(overlap_tokens=0, include_title=False)).split("d", text, title="a b c d")
    assert len(with_title) > len(without)
    assert all(c.title == "a b c d" for c in with_title + without)


def test_split_prompt_tokens_count_against_the_budget() -> None:
    counter = FakeCounter(max_tokens=12, prompt_tokens=5)
    chunker = Chunker(counter, ChunkerConfig(overlap_tokens=0, include_title=False))
    chunks = chunker.split("d", " ".join(f"w{i}" for i in range(30)))
    _check_invariants(" ".join(f"w{i}" for i in range(30)), chunks, chunker, counter)
    assert max(len(c.text.split()) for c in chunks) <= 12 - 2 - 5


def test_split_never_exceeds_when_counting_disagrees_with_offsets() -> None:
    # counting cuts words into 2-char pieces, offsets into 4-char ones: the first guess is too long
    counter = FakeCounter(max_tokens=10, count_piece=2)
    chunker = Chunker(counter, ChunkerConfig(overlap_tokens=2, include_title=False))
    text = " ".join(["abcdefgh"] * 20)
    _check_invariants(text, chunker.split("d", text), chunker, counter)


def test_split_blank_text_with_title_gives_title_chunk() -> None:
    chunker = Chunker(FakeCounter())
    (chunk,) = chunker.split("d", "   ", title="Only a title")
    assert (chunk.text, chunk.start, chunk.end) == ("", 0, 0)
    assert chunker.passage_text(chunk) == "Only a title"


def test_split_blank_document_raises_naming_it() -> None:
    with pytest.raises(InvalidInputError, match="'d7' has blank text and no title"):
        Chunker(FakeCounter()).split("d7", " \n ")


def test_split_title_too_long_raises_with_fix() -> None:
    chunker = Chunker(FakeCounter(max_tokens=8), ChunkerConfig(overlap_tokens=2))
    with pytest.raises(InvalidInputError, match="include_title=False"):
        chunker.split("d", "some text " * 10, title="a very long title with many words")


def test_split_documents_rejects_duplicate_ids_and_length_mismatch() -> None:
    chunker = Chunker(FakeCounter())
    with pytest.raises(InvalidInputError, match="'a' appears twice"):
        chunker.split_documents(["a", "a"], ["x", "y"])
    with pytest.raises(InvalidInputError, match="same length"):
        chunker.split_documents(["a"], ["x", "y"])
    chunks = chunker.split_documents(["a", "b"], ["x.", "y."], ["A", "B"])
    assert [(c.doc_id, c.title) for c in chunks] == [("a", "A"), ("b", "B")]


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match=r"overlap_tokens must be in \[0, max_tokens=8\)"):
        ChunkerConfig(max_tokens=8, overlap_tokens=8)
    with pytest.raises(ConfigError, match="exceeds the model's limit of 16"):
        Chunker(FakeCounter(max_tokens=16), ChunkerConfig(max_tokens=20, overlap_tokens=2))
    with pytest.raises(ConfigError, match="below max_tokens=4"):
        Chunker(FakeCounter(max_tokens=4), ChunkerConfig(overlap_tokens=4))


def test_passage_text_title_options() -> None:
    chunk = Chunk(doc_id="d", text="body", start=0, end=4, title="T")
    assert passage_text(chunk) == "T body"
    assert passage_text(chunk, separator=". ") == "T. body"
    assert passage_text(chunk, include_title=False) == "body"


_PIECES = [*"ab c.\n!?", "\n\n", "word", "é", "e\u0301", "😀", "👍🏽", "漢", "字", "。", "\u200b", "\x00", "ß", "ﬁ", "\t"]
_NASTY = st.lists(st.sampled_from(_PIECES), max_size=80).map("".join)


@settings(max_examples=200, deadline=None)
@given(text=_NASTY, max_tokens=st.integers(6, 20), overlap=st.integers(0, 3), title=st.sampled_from(["", "T", "A b"]))
def test_split_offsets_rebuild_source_and_chunks_fit(text: str, max_tokens: int, overlap: int, title: str) -> None:
    counter = FakeCounter(max_tokens=max_tokens)
    chunker = Chunker(counter, ChunkerConfig(overlap_tokens=min(overlap, max_tokens - 1)))
    if not text.strip() and not title:
        with pytest.raises(InvalidInputError):
            chunker.split("d", text, title=title)
        return
    chunks = chunker.split("d", text, title=title)
    _check_invariants(text, chunks, chunker, counter)


@settings(max_examples=50, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(["漢", "字", "😀", "x"]), min_size=1, max_size=300))
def test_split_text_without_spaces(text: str) -> None:
    counter = FakeCounter(max_tokens=6)
    chunker = Chunker(counter, ChunkerConfig(overlap_tokens=1))
    _check_invariants(text, chunker.split("d", text), chunker, counter)
