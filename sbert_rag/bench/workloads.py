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
    """First ``n`` passages: documents cut into token windows that fit ``encoder.max_tokens``."""
    room = encoder.max_tokens - encoder.prompt_overhead("passage")
    out: list[str] = []
    for row in read_corpus(corpus):
        text = f"{row.get('title', '')} {row.get('text', '')}".strip()
        spans = encoder.token_offsets(text)
        for start in range(0, len(spans), room):
            piece = spans[start : start + room]
            chunk = text[piece[0][0] : piece[-1][1]].strip()
            if chunk:
                out.append(chunk)
            if len(out) >= n:
                return out
    return out
