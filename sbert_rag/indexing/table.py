"""The records sidecar of a store: every record's text and metadata in one SQLite file, by id.

Owns a read-only copy of what a search shows for its hits (the stored text and metadata of each
record), written beside the dense and BM25 sidecars and stamped the same way, so a search of a
store at rest needs neither Chroma nor its import (seconds on a small machine): it maps the dense
matrix, loads BM25 and reads its hits here. The copy is rebuilt whole from the records at the end
of each write; while a write is going (or after one was killed) searches read Chroma instead.
Deliberately uses only the standard library's ``sqlite3`` and holds no vectors.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sbert_rag.errors import ModelLoadError

_FILE = "records.sqlite"


class RecordTable:
    """Stored text and metadata by record id.

    Example:
        >>> table = RecordTable(["a"], ["some text"], [{"file": "a.md"}])
        >>> table.save(folder); RecordTable.load(folder).fetch(["a"])
        {'a': ('some text', {'file': 'a.md'})}
    """

    def __init__(self, ids: Sequence[str], documents: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        """Hold records in memory until :meth:`save` (ids unique, one document and metadata each)."""
        self._ids = list(ids)
        self._rows = list(zip(self._ids, documents, metadatas))
        self._db: sqlite3.Connection | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        """The record ids (what the sidecar fingerprint covers)."""
        return tuple(self._ids)

    def save(self, folder: str | Path) -> Path:
        """Write ``folder/records.sqlite`` (the folder is created)."""
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        (path / _FILE).unlink(missing_ok=True)
        with sqlite3.connect(path / _FILE) as db:
            db.execute("CREATE TABLE records (id TEXT PRIMARY KEY, document TEXT NOT NULL, metadata TEXT NOT NULL)")
            db.executemany("INSERT INTO records VALUES (?, ?, ?)",
                           ((rid, doc, json.dumps(meta)) for rid, doc, meta in self._rows))
        db.close()
        return path

    @classmethod
    def load(cls, folder: str | Path) -> RecordTable:
        """Open a table written by :meth:`save`, read-only; rows are read on demand.

        Raises:
            ModelLoadError: the file is missing or not such a table.
        """
        file = Path(folder) / _FILE
        if not file.is_file():
            raise ModelLoadError(f"{file} is missing; the records sidecar is rebuilt by the next write")
        table = cls([], [], [])
        try:
            table._db = sqlite3.connect(f"file:{file}?mode=ro", uri=True, check_same_thread=False)
            table._ids = [row[0] for row in table._db.execute("SELECT id FROM records ORDER BY rowid")]
        except sqlite3.Error as err:
            raise ModelLoadError(f"{file} is not a records table ({err})") from err
        return table

    def fetch(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Text and metadata of the records among ``ids`` (unknown ids are absent)."""
        if self._db is None:
            wanted = set(ids)
            return {rid: (doc, dict(meta)) for rid, doc, meta in self._rows if rid in wanted}
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 500):  # SQLite's default limit on bound parameters is 999
            part = unique[start:start + 500]
            query = f"SELECT id, document, metadata FROM records WHERE id IN ({','.join('?' * len(part))})"
            for rid, doc, meta in self._db.execute(query, part):
                out[rid] = (doc, json.loads(meta))
        return out
