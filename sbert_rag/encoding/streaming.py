"""Encode an unbounded stream of texts in bounded memory, optionally straight into a .npy file.

Owns chunking the input stream and the incremental .npy writer. Memory holds one chunk of
texts and its vectors at a time, whatever the stream's length: peak RSS stays flat from 10k
to 100k passages (benchmarks/stream_memory.py measures it).
"""

from __future__ import annotations

import ast
import itertools
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from sbert_rag.encoding.tokenize import TruncationWarning
from sbert_rag.encoding.validate import validate_texts

if TYPE_CHECKING:
    from sbert_rag.encoding.text_encoder import TextEncoder
    from sbert_rag.types import FloatMatrix, Role

# Bytes reserved for the .npy header so the final row count can be written in place.
_HEADER_BYTES = 128


def iter_encode(
    encoder: TextEncoder, texts: Iterable[str], *, chunk_size: int = 4096, role: Role | str | None = None, **options: Any
) -> Iterator[FloatMatrix]:
    """Yield float32 (k, dim) blocks, in input order, for a stream of texts.

    Over-long inputs are reported once, after the stream ends, with indices counted over the
    whole stream (not per block).
    """
    total = 0
    truncated: list[int] = []
    limit = encoder.max_tokens
    it = iter(texts)
    while True:
        block = list(itertools.islice(it, chunk_size))
        if not block:
            break
        validate_texts(block, "input", offset=total)  # name a bad item by its index in the stream
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncationWarning)
            result = encoder.encode_with_report(block, role=role, **options)
        truncated.extend(total + i for i in result.report.truncated)
        total += len(block)
        yield result.embeddings
    if truncated:
        shown = ", ".join(str(i) for i in truncated[:20]) + (", ..." if len(truncated) > 20 else "")
        warnings.warn(
            f"{len(truncated)} of {total} inputs exceed the model's {limit} tokens and were truncated "
            f"(indices: {shown}). Pass overflow='windows' to keep everything, or chunk first.",
            TruncationWarning,
            stacklevel=2,
        )


def _header(rows: int, dim: int) -> bytes:
    body = repr({"descr": "<f4", "fortran_order": False, "shape": (rows, dim)}).encode("latin1")
    # magic (6) + version (2) + header length (2) + body, padded with spaces and ending in \n
    pad = _HEADER_BYTES - 10 - len(body) - 1
    return b"\x93NUMPY\x01\x00" + (_HEADER_BYTES - 10).to_bytes(2, "little") + body + b" " * pad + b"\n"


def encode_to_npy(
    encoder: TextEncoder, texts: Iterable[str], path: str | os.PathLike[str], *, chunk_size: int = 4096, **options: Any
) -> int:
    """Encode a stream of texts into a float32 .npy file, writing each block as it comes.

    Returns:
        Number of rows written. The file is a standard .npy (``np.load`` reads it, mmap too).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    rows = 0
    with tmp.open("wb") as f:
        f.write(_header(0, encoder.dim))
        for block in iter_encode(encoder, texts, chunk_size=chunk_size, **options):
            f.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
            rows += len(block)
        _rewrite_header(f, rows, encoder.dim)
    os.replace(tmp, target)  # a killed run never leaves a half-written file under the real name
    return rows


def _rewrite_header(f: BinaryIO, rows: int, dim: int) -> None:
    f.seek(0)
    f.write(_header(rows, dim))
    f.flush()


def read_npy_shape(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Shape recorded in a .npy header (used by tests)."""
    with open(path, "rb") as f:
        f.read(10)
        header = f.read(_HEADER_BYTES - 10).decode("latin1")
    return tuple(ast.literal_eval(header)["shape"])  # type: ignore[return-value]
