"""Token-aware chunking: split documents into windows that fit the model, with character offsets.

Owns cutting a document into overlapping windows measured with the encoder's own tokenizer (through
the ``TokenCounter`` protocol), choosing cut points at paragraph, then sentence, then word
boundaries, and recording where each chunk sits in the source. Every chunk is verified with
``count_tokens`` on the exact passage text the model will read (title and prompt included), so a
chunk never exceeds the model's length. Deliberately does not embed, index or load a model, and
never imports torch: a fake counter is enough to test it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.types import Chunk, Role, TokenCounter

# Boundary strength between two consecutive tokens; higher is a better place to cut.
_SPLIT_TOKEN = -1  # tokens share characters (byte-level pieces of one character): avoid
_NONE = 0  # inside a word (e.g. WordPiece "##" pieces)
_WORD = 1  # whitespace or punctuation between words
_SENTENCE = 2  # after . ! ? (and closing quotes/brackets) then whitespace, a line break, or CJK stops
_PARAGRAPH = 3  # a blank line

_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\Z")
_CJK_STOPS = frozenset("\u3002\uff01\uff1f\uff0e")  # 。！？．need no following space
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


@dataclass(frozen=True)
class ChunkerConfig:
    """How documents are cut into chunks.

    Attributes:
        max_tokens: most tokens a chunk's passage may have, prompt, title and special tokens
            included. ``None`` means the token counter's own ``max_tokens``; a larger value is
            refused, because the model would truncate.
        overlap_tokens: tokens shared by consecutive chunks of a document. When a long title leaves
            less than twice this room for the text, the overlap shrinks to half the room left.
        include_title: prepend the document title to every chunk's passage text (the chunk's
            ``text`` and offsets never include it).
        title_separator: text placed between the title and the chunk text.
    """

    max_tokens: int | None = None
    overlap_tokens: int = 32
    include_title: bool = True
    title_separator: str = " "

    def __post_init__(self) -> None:
        if self.max_tokens is not None and (isinstance(self.max_tokens, bool) or self.max_tokens < 1):
            raise ConfigError(f"max_tokens must be an integer >= 1 or None; got {self.max_tokens!r}")
        if isinstance(self.overlap_tokens, bool) or self.overlap_tokens < 0:
            raise ConfigError(f"overlap_tokens must be an integer >= 0; got {self.overlap_tokens!r}")
        if self.max_tokens is not None and self.overlap_tokens >= self.max_tokens:
            raise ConfigError(
                f"overlap_tokens must be in [0, max_tokens={self.max_tokens}), got {self.overlap_tokens}"
            )


def passage_text(chunk: Chunk, include_title: bool = True, separator: str = " ") -> str:
    """Return the text to embed or index for ``chunk``: optionally its title, then its text.

    Args:
        chunk: the chunk.
        include_title: prepend ``chunk.title`` when it is not blank.
        separator: placed between title and text.

    Returns:
        ``title + separator + text``, or ``text`` alone (also when the text is empty).
    """
    if include_title and chunk.title.strip():
        return f"{chunk.title}{separator}{chunk.text}" if chunk.text else chunk.title
    return chunk.text


class Chunker:
    """Split documents into token windows that fit an encoder, preferring natural boundaries.

    Example:
        >>> chunker = Chunker(encoder, ChunkerConfig(overlap_tokens=32))
        >>> chunks = chunker.split("doc1", long_text, title="A title")
        >>> texts = [chunker.passage_text(c) for c in chunks]   # what to embed
    """

    def __init__(self, counter: TokenCounter, config: ChunkerConfig | None = None) -> None:
        """Build a chunker.

        Args:
            counter: measures tokens the way the target model does (a ``TextEncoder`` is one).
            config: chunking options; ``None`` means the defaults.

        Raises:
            ConfigError: ``config.max_tokens`` exceeds ``counter.max_tokens``.
        """
        self.counter = counter
        self.config = config or ChunkerConfig()
        limit = counter.max_tokens
        if self.config.max_tokens is not None and self.config.max_tokens > limit:
            raise ConfigError(
                f"max_tokens={self.config.max_tokens} exceeds the model's limit of {limit} tokens; the "
                f"model would truncate every longer chunk. Pass max_tokens <= {limit} or None."
            )
        self.max_tokens = self.config.max_tokens or limit
        if self.config.overlap_tokens >= self.max_tokens:
            raise ConfigError(
                f"overlap_tokens must be below max_tokens={self.max_tokens}, got {self.config.overlap_tokens}"
            )

    def passage_text(self, chunk: Chunk) -> str:
        """Return what to embed for ``chunk`` under this chunker's title options."""
        return passage_text(chunk, self.config.include_title, self.config.title_separator)

    def split_documents(
        self, ids: Sequence[str], texts: Sequence[str], titles: Sequence[str] | None = None
    ) -> list[Chunk]:
        """Split many documents; chunks come out in document order.

        Args:
            ids: document ids, unique.
            texts: document texts, same length as ``ids``.
            titles: document titles, same length, or ``None`` for no titles.

        Returns:
            All chunks, those of ``ids[0]`` first.

        Raises:
            InvalidInputError: lengths differ, an id repeats, or a document cannot be split (see
                ``split``).
        """
        if len(texts) != len(ids) or (titles is not None and len(titles) != len(ids)):
            raise InvalidInputError(
                f"ids, texts and titles must have the same length; got {len(ids)} ids, {len(texts)} texts"
                f" and {'no' if titles is None else len(titles)} titles"
            )
        seen: set[str] = set()
        chunks: list[Chunk] = []
        for i, doc_id in enumerate(ids):
            if doc_id in seen:
                raise InvalidInputError(f"document id {doc_id!r} appears twice (again at index {i}); ids must be unique")
            seen.add(doc_id)
            chunks.extend(self.split(doc_id, texts[i], titles[i] if titles is not None else ""))
        return chunks

    def split(self, doc_id: str, text: str, title: str = "") -> list[Chunk]:
        """Split one document into chunks whose passage text fits the model.

        Chunks are stripped of surrounding whitespace, ordered, and together cover every
        non-whitespace character of ``text``; consecutive chunks share about ``overlap_tokens``
        tokens. ``chunk.text == text[chunk.start:chunk.end]`` always holds.

        Args:
            doc_id: the document id; chunk ids are ``f"{doc_id}#{i}"``.
            text: the document text. Blank text with a title gives one empty chunk (the title).
            title: the document title, kept on every chunk and prepended to the passage text when
                ``include_title`` is set.

        Returns:
            One chunk when the whole document fits, otherwise several.

        Raises:
            InvalidInputError: text and title are both blank; or the title and prompt alone leave
                no room for text.
        """
        if not isinstance(text, str) or not isinstance(title, str):
            raise InvalidInputError(f"document {doc_id!r}: text and title must be str, got {type(text).__name__}")
        if not text.strip():
            if not title.strip():
                raise InvalidInputError(
                    f"document {doc_id!r} has blank text and no title; drop it or give it content"
                )
            chunk = Chunk(doc_id=doc_id, text="", start=0, end=0, chunk_id=f"{doc_id}#0", title=title)
            self._check_fits([chunk], doc_id)
            return [chunk]

        spans = self.counter.token_offsets(text)
        whole = self._make_chunk(doc_id, text, title, 0, 0, len(spans), spans)
        (full_count,) = self.counter.count_tokens([self.passage_text(whole)], role=Role.PASSAGE)
        if full_count <= self.max_tokens:
            return [whole]
        # Tokens that are not text: prompt, special tokens, title; measured on a one-token probe.
        overhead = self._overhead(title)
        budget = self.max_tokens - overhead
        levels = _boundary_levels(text, spans)
        while budget >= 1:
            overlap = min(self.config.overlap_tokens, budget // 2)
            windows = _windows(levels, len(spans), budget, overlap)
            chunks = [
                self._make_chunk(doc_id, text, title, i, a, b, spans)
                for i, (a, b) in enumerate(windows)
            ]
            worst = max(self.counter.count_tokens([self.passage_text(c) for c in chunks], role=Role.PASSAGE))
            if worst <= self.max_tokens:
                return chunks
            # Tokenisation is not exactly additive at cut points (and counts may differ from
            # offsets): shrink the window in proportion to the overshoot, by at least one token.
            budget = min(budget - 1, budget * (self.max_tokens - overhead) // max(1, worst - overhead))
        raise InvalidInputError(
            f"document {doc_id!r}: the title ({len(title)} characters) plus prompt and special tokens use "
            f"about {overhead} of the {self.max_tokens} tokens, leaving no room for text. Shorten the title or "
            f"pass ChunkerConfig(include_title=False)."
        )

    def _make_chunk(
        self, doc_id: str, text: str, title: str, index: int, a: int, b: int, spans: Sequence[tuple[int, int]]
    ) -> Chunk:
        # A window of tokens [a, b) owns the characters up to the next window's first token, so
        # characters the tokenizer drops (controls, zero-width marks) are never lost in a gap.
        start = spans[a][0] if 0 < a < len(spans) else 0
        end = spans[b][0] if b < len(spans) else len(text)
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        return Chunk(doc_id=doc_id, text=text[start:end], start=start, end=end,
                     chunk_id=f"{doc_id}#{index}", title=title)

    def _overhead(self, title: str) -> int:
        """Tokens of a passage that are not its text, measured on the one-token text ``"a"``."""
        probe = Chunk(doc_id="", text="a", start=0, end=1, title=title)
        (count,) = self.counter.count_tokens([self.passage_text(probe)], role=Role.PASSAGE)
        return count - 1

    def _check_fits(self, chunks: list[Chunk], doc_id: str) -> None:
        counts = self.counter.count_tokens([self.passage_text(c) for c in chunks], role=Role.PASSAGE)
        if max(counts) > self.max_tokens:
            raise InvalidInputError(
                f"document {doc_id!r}: its title alone has {max(counts)} tokens, above the limit of "
                f"{self.max_tokens}. Shorten the title or pass ChunkerConfig(include_title=False)."
            )


def _boundary_levels(text: str, spans: Sequence[tuple[int, int]]) -> list[int]:
    """Strength of the boundary before each token; index 0 is the document start."""
    levels = [_PARAGRAPH + 1]
    for i in range(1, len(spans)):
        prev_end, start = spans[i - 1][1], spans[i][0]
        if start < prev_end:
            levels.append(_SPLIT_TOKEN)
            continue
        gap = text[prev_end:start]
        before = text[max(0, prev_end - 4):prev_end]
        if _BLANK_LINE.search(gap):
            levels.append(_PARAGRAPH)
        elif ("\n" in gap) or (gap[:1].isspace() and _SENTENCE_END.search(before)) or (before[-1:] in _CJK_STOPS):
            levels.append(_SENTENCE)
        elif gap or not text[start:start + 1].isalnum() or not before[-1:].isalnum():
            levels.append(_WORD)
        else:
            levels.append(_NONE)
    return levels


def _windows(levels: Sequence[int], n: int, budget: int, overlap: int) -> list[tuple[int, int]]:
    """Token windows [a, b) of at most ``budget`` tokens, cut at the strongest boundaries.

    A cut is looked for in the second half of the window (so chunks are not made tiny to reach a
    boundary); the next window starts at the strongest boundary within the last ``overlap`` tokens.
    """
    windows: list[tuple[int, int]] = []
    a = 0
    while True:
        b_max = min(n, a + budget)
        if b_max == n:
            windows.append((a, n))
            return windows
        lo = a + max(1, budget // 2)
        # strongest level wins; among equals the latest cut, for fuller chunks
        b = max(range(lo, b_max + 1), key=lambda i: (levels[i], i))
        windows.append((a, b))
        starts = range(max(a + 1, b - overlap), b)
        # strongest level wins; among equals the earliest start, for the fullest overlap
        a = max(starts, key=lambda i: (levels[i], -i)) if overlap and starts else b
