"""JSON Lines rows: one JSON object per non-blank line, each error naming the file and the line.

Owns parsing the lines of a ``.jsonl`` file (BEIR's corpus and queries, STS pairs) into dicts.
Deliberately does not open files (callers hand it lines, gzip or not) or interpret the objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from sbert_rag.errors import InvalidInputError


def json_objects(lines: Iterable[str], where: str) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(line number, object)`` for each non-blank line (numbers are 1-based).

    Args:
        lines: the file's lines.
        where: how errors name the file (e.g. its path).

    Raises:
        InvalidInputError: a line is not valid JSON, or not a JSON object.
    """
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InvalidInputError(f"{where} line {line_no} is not valid JSON: {err.msg}") from err
        if not isinstance(row, dict):
            raise InvalidInputError(f"{where} line {line_no} is not a JSON object")
        yield line_no, row
