"""Semantic textual similarity evaluation: Spearman correlation of cosine scores with gold.

Owns reading sentence pairs with gold scores and the rank correlation. Three layouts are read:
the STS Benchmark one (tab-separated, no header, score in column 5, sentences in 6 and 7, 1-based);
a table with a header row (CSV, or tab-separated as SICK's own files are) whose columns are found
by name; and JSONL, one object per line, whose keys are found the same way. Scores are taken as
they are, on any scale (SICK's 1-5, STS-B's 0-5): Spearman compares ranks only. Reaches models
only through an ``encode`` callable. Deliberately does not download sets or rescale scores.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sbert_rag.evaluation.jsonl import json_objects
from sbert_rag.errors import InvalidInputError

SENTENCE1_NAMES = ("sentence1", "sentence_A", "text1", "s1")
"""Header names taken as the first sentence when no column names are given (any case)."""
SENTENCE2_NAMES = ("sentence2", "sentence_B", "text2", "s2")
"""Header names taken as the second sentence (any case)."""
SCORE_NAMES = ("score", "relatedness_score", "similarity", "label")
"""Header names taken as the gold score (any case), in order of preference."""

_ROLES = (("first sentence", SENTENCE1_NAMES), ("second sentence", SENTENCE2_NAMES), ("score", SCORE_NAMES))


@dataclass(frozen=True)
class STSPairs:
    """Sentence pairs with gold similarity scores."""

    first: list[str]
    second: list[str]
    scores: npt.NDArray[np.float64]


class ColumnsNotFoundError(InvalidInputError):
    """The sentence or score columns of an STS file cannot be found in its header.

    Attributes:
        path: the file.
        header: the header row (JSONL: the keys of the first object) as read.
    """

    def __init__(self, path: Path, header: Sequence[str], problem: str, *, named: bool) -> None:
        self.path = path
        self.header = list(header)
        if named:
            fix = "Fix: name three columns that the header holds (first sentence, second sentence, score)"
        else:
            fix = (
                f"Names recognised (any case): first sentence {'/'.join(SENTENCE1_NAMES)}, second sentence "
                f"{'/'.join(SENTENCE2_NAMES)}, score {'/'.join(SCORE_NAMES)}; a file without a header must be "
                f"in the STS Benchmark layout (tab-separated, score in column 5, sentences in 6 and 7). "
                f"Fix: rename the header's columns, or name the three header columns to read (first sentence, "
                f"second sentence, score)"
            )
        super().__init__(f"{str(path)!r}: {problem} in its header {self.header}. {fix}")


def read_sts(path: str | Path, columns: Sequence[str] | None = None) -> STSPairs:
    """Read sentence pairs with gold scores from an STS file.

    The layout is found from the file: ``.jsonl`` files, or files whose first line starts with
    ``{``, are JSONL; otherwise the first non-blank line is a header when it names the three
    columns, and the file is tab-separated when that line holds a tab, else comma-separated
    (CSV quoting). Tab-separated files are read without quoting, as STS-B and SICK are written.
    A tab-separated file whose first line names no columns but has 7 or more fields with a
    number in the 5th is read as the STS Benchmark layout.

    Args:
        path: the file.
        columns: header names (JSONL: keys) of the first sentence, second sentence and score
            columns, matched in any case; ``None`` finds them among ``SENTENCE1_NAMES``,
            ``SENTENCE2_NAMES`` and ``SCORE_NAMES`` (or reads the STS Benchmark layout).

    Returns:
        The pairs in file order; scores as written.

    Raises:
        ColumnsNotFoundError: the header (JSONL: the first object's keys) lacks a column, or names
            none and the file is not in the STS Benchmark layout.
        InvalidInputError: the file is missing or holds no pairs, ``columns`` is not three names,
            a line is short, is not a JSON object or lacks a key, or a score is not a number; the
            message names the line.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"STS file {str(p)!r} does not exist")
    if columns is not None and (isinstance(columns, str) or len(columns) != 3 or not all(c.strip() for c in columns)):
        raise InvalidInputError(
            f"columns must be three header names (first sentence, second sentence, score); got {columns!r}"
        )
    text = p.read_text(encoding="utf-8-sig")
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    if not first_line:
        raise InvalidInputError(f"STS file {str(p)!r} is empty; it holds no pairs")
    if p.suffix.lower() == ".jsonl" or first_line.lstrip().startswith("{"):
        first, second, scores = _read_jsonl(p, text, columns)
    elif "\t" in first_line:
        first, second, scores = _read_table(p, text, "\t", columns)
    else:
        first, second, scores = _read_table(p, text, ",", columns)
    if not scores:
        raise InvalidInputError(f"STS file {str(p)!r} holds no pairs")
    return STSPairs(first, second, np.asarray(scores, dtype=np.float64))


def _find_columns(header: Sequence[str], columns: Sequence[str] | None) -> tuple[list[int], str]:
    """Indices of the three columns in ``header``, or ``[]`` and what could not be found."""
    lowered = [h.strip().lower() for h in header]
    found: list[int] = []
    missing: list[str] = []
    for i, (role, names) in enumerate(_ROLES):
        wanted = [columns[i]] if columns is not None else list(names)
        index = next((lowered.index(n.strip().lower()) for n in wanted if n.strip().lower() in lowered), None)
        if index is None:
            missing.append(repr(columns[i]) if columns is not None else role)
        else:
            found.append(index)
    if not missing:
        return found, ""
    listed = ", ".join(missing[:-1]) + (" or " if len(missing) > 1 else "") + missing[-1]
    return [], f"no column named {listed}" if columns is not None else f"no {listed} column"


def _score(value: object, p: Path, lineno: int) -> float:
    if isinstance(value, bool):  # JSON true/false are not scores, though float() takes them
        raise InvalidInputError(f"{str(p)!r} line {lineno}: score {value!r} is not a number")
    try:
        return float(value)  # type: ignore[arg-type]  # str, int or float; anything else is refused below
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"{str(p)!r} line {lineno}: score {value!r} is not a number") from err


def _read_table(
    p: Path, text: str, delimiter: str, columns: Sequence[str] | None
) -> tuple[list[str], list[str], list[float]]:
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    rows = ((reader.line_num, row) for row in reader if row and any(c.strip() for c in row))
    header_line, header = next(rows, (0, []))
    indices, missing = _find_columns(header, columns)
    if missing:
        if columns is None and delimiter == "\t" and _is_stsb_row(header):  # a header has no number in field 5
            return _read_stsb(p, text)
        raise ColumnsNotFoundError(p, header, missing, named=columns is not None)
    first: list[str] = []
    second: list[str] = []
    scores: list[float] = []
    need = max(indices) + 1
    for lineno, row in rows:
        if len(row) < need:
            raise InvalidInputError(
                f"{str(p)!r} line {lineno}: expected at least {need} fields as the header on line {header_line} "
                f"places its columns, got {len(row)}"
            )
        scores.append(_score(row[indices[2]], p, lineno))
        first.append(row[indices[0]])
        second.append(row[indices[1]])
    return first, second, scores


def _is_stsb_row(row: Sequence[str]) -> bool:
    if len(row) < 7:
        return False
    try:
        float(row[4])
    except ValueError:
        return False
    return True


def _read_stsb(p: Path, text: str) -> tuple[list[str], list[str], list[float]]:
    first: list[str] = []
    second: list[str] = []
    scores: list[float] = []
    for lineno, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE),
                                 start=1):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < 7:
            raise InvalidInputError(
                f"{str(p)!r} line {lineno}: expected at least 7 tab-separated columns (score in 5, "
                f"sentences in 6 and 7), got {len(row)}"
            )
        try:
            scores.append(float(row[4]))
        except ValueError as err:
            raise InvalidInputError(f"{str(p)!r} line {lineno}: score {row[4]!r} is not a number") from err
        first.append(row[5])
        second.append(row[6])
    return first, second, scores


def _read_jsonl(p: Path, text: str, columns: Sequence[str] | None) -> tuple[list[str], list[str], list[float]]:
    first: list[str] = []
    second: list[str] = []
    scores: list[float] = []
    keys: list[str] = []
    for lineno, row in json_objects(text.splitlines(), repr(str(p))):
        if not keys:
            indices, missing = _find_columns(list(row), columns)
            if missing:
                raise ColumnsNotFoundError(p, list(row), missing, named=columns is not None)
            keys = [list(row)[i] for i in indices]
        absent = [k for k in keys if k not in row]
        if absent:
            raise InvalidInputError(f"{str(p)!r} line {lineno} has no {absent[0]!r} key, which the first object has")
        for key in keys[:2]:
            if not isinstance(row[key], str):
                raise InvalidInputError(f"{str(p)!r} line {lineno}: {key!r} is {row[key]!r}, not a string")
        first.append(row[keys[0]])
        second.append(row[keys[1]])
        scores.append(_score(row[keys[2]], p, lineno))
    return first, second, scores


def rankdata(x: Sequence[float] | npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Ranks 1..n with ties given their average rank (as scipy.stats.rankdata does)."""
    a = np.asarray(x, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    ranks = np.empty(len(a), dtype=np.float64)
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and sorted_a[j + 1] == sorted_a[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(x: Sequence[float] | npt.NDArray[np.float64], y: Sequence[float] | npt.NDArray[np.float64]) -> float:
    """Spearman rank correlation of two equally long sequences."""
    rx, ry = rankdata(x), rankdata(y)
    if len(rx) != len(ry) or len(rx) < 2:
        raise InvalidInputError(f"spearman needs two sequences of one length >= 2; got {len(rx)} and {len(ry)}")
    rx -= rx.mean()
    ry -= ry.mean()
    denom = float(np.sqrt((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / denom) if denom else 0.0


def evaluate_sts(pairs: STSPairs, encode: Callable[[list[str]], npt.NDArray[np.float32]]) -> dict[str, float | int]:
    """Spearman (x100, two decimals) of cosine similarity against the gold scores.

    Args:
        pairs: the pairs to score.
        encode: texts -> float32 (n, dim) vectors.

    Returns:
        ``{"spearman_cosine": float, "pairs": int}``.
    """
    a = np.asarray(encode(pairs.first), dtype=np.float64)
    b = np.asarray(encode(pairs.second), dtype=np.float64)
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    cos = (a * b).sum(axis=1) / np.maximum(na * nb, 1e-12)
    return {"spearman_cosine": round(100.0 * spearman(cos, pairs.scores), 2), "pairs": len(pairs.scores)}
