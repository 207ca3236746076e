"""Benchmark workloads: short STS-B sentences and mixed-length SciFact passages.

Owns reading the shared data into text lists. Passages are SciFact title + abstract cut at
token boundaries into pieces that fit the model, as a RAG indexer would feed them.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from sbert_rag.errors import InvalidInputError
from sbert_rag.evaluation.sts import read_sts


def short_sentences(sts_files: list[Path], n: int) -> list[str]:
    """First ``n`` distinct sentences of the STS files, in file order."""
    seen: dict[str, None] = {}
    for f in sts_files:
        pairs = read_sts(f)
        for a, b in zip(pairs.first, pairs.second):
            seen.setdefault(a)
            seen.setdefault(b)
            if len(seen) >= n:
                return list(seen)[:n]
    return list(seen)


def read_corpus(path: Path) -> list[dict[str, Any]]:
    """Rows of a BEIR ``corpus.jsonl`` or ``corpus.jsonl.gz``."""
    if not path.is_file():
        raise InvalidInputError(f"corpus file {str(path)!r} does not exist")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        return [json.loads(line) for line in f if line.strip()]


def passages(corpus: Path, n: int, encoder: Any) -> list[str]:
    """First ``n`` passages: documents cut into token windows that fit ``encoder.max_tokens``.

    When one pass over the corpus gives fewer than ``n`` (SciFact's 5,183 abstracts give about
    8,000 full windows), further passes cut windows of 1/2, 1/4, ... that width: more distinct,
    shorter passages (a piece equal to one already taken is skipped), mixed lengths as a RAG
    index holds. Texts repeat only if 1-token windows still fall short. The first pass alone, so the same list, serves any ``n`` it covers.
    """
    room = encoder.max_tokens - encoder.prompt_overhead("passage")
    docs = [f"{row.get('title', '')} {row.get('text', '')}".strip() for row in read_corpus(corpus)]
    spans_of: list[list[tuple[int, int]]] = []  # filled during the first pass, which may stop early
    out: list[str] = []
    seen: set[str] = set()
    width = room
    while width >= 1:
        for i, text in enumerate(docs):
            if i == len(spans_of):
                spans_of.append(encoder.token_offsets(text))
            spans = spans_of[i]
            for start in range(0, len(spans), width):
                piece = spans[start : start + width]
                chunk = text[piece[0][0] : piece[-1][1]].strip()
                if chunk and (width == room or chunk not in seen):
                    out.append(chunk)
                    seen.add(chunk)
                if len(out) >= n:
                    return out
        width //= 2
    if not out:
        return out
    return [out[i % len(out)] for i in range(n)]
