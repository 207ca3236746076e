"""The persistent store of ``sbert-rag index``: a folder with an embedded Chroma database.

Owns the store folder's layout and every read and write of its records::

    STORE/store.json     manifest (``manifest``): model, settings, indexed folder
    STORE/chroma/        Chroma ``PersistentClient``: collection ``chunks`` (text model vectors)
                         and, with a CLIP model, ``images`` (CLIP vectors), both in cosine space
    STORE/bm25/          BM25 sidecar over the chunks (``sidecar``), stamped with their ids
    STORE/dense/         the chunks' vectors as one float32 matrix (``DenseIndex``), stamped the same
                         way: dense search is exact and memory-mapped, never Chroma's approximate
                         graph; ``STORE/dense-images/`` likewise for images
    STORE/records/       every chunk's text and metadata (SQLite, ``table``), stamped the same way
    STORE/state.json     per kind, the fingerprint of the records when the last write finished, or
                         null while a write is going: a search of a store at rest reads only the
                         sidecars and never imports Chroma
    STORE/index.lock     the writer lock (``lock``)
    STORE/chroma.lock    the access lock around every Chroma session (``lock``)

Every read or write of Chroma happens inside a *session*: the access lock is taken, a client
opened, and both are released at the end, so each session sees what other processes wrote
before it and no two processes are inside Chroma at once. Methods open a session of their own
unless the caller holds one (``with store.session():``) to group several calls.

Records carry metadata ``file`` (path relative to the indexed folder), ``file_hash``, ``chunks``
(how many records that file version has), ``kind`` and offsets; ``file_states`` reads them back
per file, which is what makes index runs idempotent and resumable. Chroma is imported on first
use. Deliberately does not walk folders, chunk or embed.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sbert_rag._deps import require
from sbert_rag.chunking import passage_text
from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.indexing.lock import WriterLock, access_lock
from sbert_rag.indexing.manifest import MANIFEST_FILE, Manifest
from sbert_rag.indexing.records import CollectionRows, ids_fingerprint, read_collection
from sbert_rag.indexing.sidecar import clear_sidecar, load_sidecar, load_sidecar_at, save_sidecar
from sbert_rag.indexing.table import RecordTable
from sbert_rag.retrieval.bm25 import BM25Config, BM25Index
from sbert_rag.retrieval.dense import DenseIndex
from sbert_rag.types import Chunk, FloatMatrix

COLLECTIONS = {"text": "chunks", "image": "images"}
"""Record kind -> Chroma collection name."""

_SIDECARS = {"text": ("dense", "bm25", "records"), "image": ("dense-images", "records-images")}
"""Record kind -> its sidecar folders in the store (the dense one first, the records one last)."""
STATE_FILE = "state.json"
_STORE_LEFTOVERS = ("index.lock", "chroma.lock", "chroma", "bm25", "dense", "dense-images")
"""What a first run killed early may leave in a folder that has no manifest yet."""


@dataclass
class FileState:
    """What the store holds for one file.

    Attributes:
        ids: record ids stored for it.
        metadatas: record id -> stored metadata.
    """

    ids: set[str] = field(default_factory=set)
    metadatas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def complete(self, file_hash: str) -> bool:
        """Whether the records are exactly those of the file version ``file_hash``.

        Records of one version come from one deterministic chunking (the store refuses other
        settings and models), so when every record names this version and their number is the
        version's chunk count, the stored set is the expected set and nothing needs reading.
        """
        return bool(self.ids) and all(
            m.get("file_hash") == file_hash and m.get("chunks") == len(self.ids) for m in self.metadatas.values()
        )


@dataclass(frozen=True)
class StoreIndexes:
    """Exact search indexes over one kind of record, as stored at one moment.

    Attributes:
        ids: the stored record ids (None when the sidecars were taken as current without
            reading them from Chroma).
        dense: their vectors (cosine), or None.
        bm25: BM25 over their passages (text only), or None.
        records: their texts and metadata, or None.
        fingerprint: the fingerprint of the ids when they were read from sidecars (or saved
            as sidecars): ``records_at`` gives their texts and metadata from the same moment.
    """

    ids: list[str] | None
    dense: DenseIndex | None = None
    bm25: BM25Index | None = None
    records: RecordTable | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class Record:
    """One record to write: its id, stored text (a chunk's text, an image's path) and metadata."""

    id: str
    document: str
    metadata: dict[str, Any]


class IndexStore:
    """A store folder: its manifest, its Chroma collections and its BM25 sidecar.

    Example:
        >>> store = IndexStore.open(Path(".sbert_rag"), must_exist=True)
        >>> store.counts()
        {'files': 7, 'chunks': 9, 'images': 0}
    """

    def __init__(self, path: Path, manifest: Manifest | None) -> None:
        """Wrap the folder ``path`` (prefer :meth:`open`)."""
        self.path = path
        self.manifest = manifest
        self._client: Any = None
        self._collections: dict[str, Any] = {}
        self._depth = 0  # nesting of session()
        self._thread_lock = threading.RLock()
        self._written: dict[str, bool] = {}  # kinds written since their sidecars were last saved
        self.collection_names = dict(COLLECTIONS)

    @classmethod
    def open(cls, path: str | Path, *, must_exist: bool) -> IndexStore:
        """Open a store folder (its manifest is read; Chroma opens in each session).

        Args:
            path: the store folder.
            must_exist: refuse a folder without ``store.json`` (search, info).

        Raises:
            ConfigError: ``must_exist`` and the folder holds no store.
            ModelLoadError: ``store.json`` is malformed.
        """
        folder = Path(path).expanduser().absolute()
        manifest = Manifest.read(folder)
        if manifest is None and must_exist:
            raise ConfigError(
                f"no sbert-rag store at {str(folder)!r} ({MANIFEST_FILE} is missing); create one with "
                f"Store.open(path, create=True).add_folder(DIR) (the index command), or open the folder an index run wrote",
                settings=("path",),
            )
        return cls(folder, manifest)

    @property
    def location(self) -> str:
        """Where the records live, as a user names the store (here the folder)."""
        return str(self.path)

    def check_new(self) -> None:
        """Before the first write of a new store: refuse a folder that holds other files.

        Raises:
            ConfigError: the folder holds files that are not a store's (a first run killed
                early may leave only the store's own files, which are fine).
        """
        strays = sorted(
            p.name for p in self.path.iterdir()
            if p.name not in _STORE_LEFTOVERS and not p.name.startswith("store.json.tmp")
        ) if self.path.is_dir() else []
        if strays:
            raise ConfigError(
                f"{str(self.path)!r} is not an sbert-rag store (no store.json) and holds other files "
                f"({', '.join(strays[:5])}); use a new or empty folder for the store"
            )

    def read_manifest(self) -> Manifest | None:
        """The manifest as stored now (another process may have written it since this one opened)."""
        return Manifest.read(self.path)

    def writer(self) -> contextlib.AbstractContextManager[Any]:
        """The lock a write holds for its whole length: one writer per store folder."""
        return WriterLock(self.path)

    def write_manifest(self, manifest: Manifest) -> None:
        """Record ``manifest`` as the store's (atomically) and keep it as ``self.manifest``."""
        manifest.write(self.path)
        self.manifest = manifest

    # ------------------------------------------------------------------ chroma sessions
    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Hold the access lock with an open Chroma client; nested sessions share the outer one.

        Threads of one process take turns: the outermost session of a thread holds a re-entrant
        lock, so no thread closes the client while another uses it (framework adapters call a
        store from worker threads).
        """
        with self._thread_lock:
            with self._session():
                yield

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with self._outermost_session():
            self._depth = 1
            try:
                yield
                self._session_done()
            finally:
                self._depth = 0

    @contextlib.contextmanager
    def _outermost_session(self) -> Iterator[None]:
        """What the outermost session holds: the access lock, and a client closed at its end (the
        next session opens afresh and sees other processes' writes)."""
        with access_lock(self.path):
            try:
                yield
            finally:
                if self._client is not None:
                    self._client.close()
                self._client, self._collections = None, {}

    def _session_done(self) -> None:
        """At the end of an outermost session that raised nothing, still inside it."""

    def _chroma(self) -> Any:
        if not self._depth:
            raise RuntimeError("internal: Chroma is only used inside IndexStore.session()")
        if self._client is None:
            self._client = self.connect()
        return self._client

    def connect(self) -> Any:
        """A new Chroma client of the store's records (to use them with plain Chroma: inside
        ``session()`` for a store folder, whose embedded database one process opens at a time).
        """
        chromadb = require("chromadb", "sbert-rag[index]")
        settings = chromadb.config.Settings(anonymized_telemetry=False)
        return chromadb.PersistentClient(str(self.path / "chroma"), settings=settings)

    def _collection(self, kind: str, *, create: bool = False) -> Any:
        """The Chroma collection of ``kind`` (``"text"`` or ``"image"``); None if absent and not ``create``.

        A new collection records the embedding function of the store's model in its configuration
        (``sbert_rag.chroma_function``), so ``query_texts`` works on it when reopened with plain
        Chroma in a process that imports that module; the store itself always passes vectors and
        binds no function. Collections written before that record none and are read the same way.
        """
        if kind not in self._collections:
            name = self.collection_names[kind]
            # importing it registers our functions with Chroma's registry (it has no entry points),
            # so Chroma calls later made in this process rebuild them from a collection's config
            chroma_function = require("sbert_rag.chroma_function", "sbert-rag[chroma]")
            if create:
                configuration: dict[str, Any] = {"hnsw": {"space": "cosine"}}
                if self.manifest is not None and (kind == "text" or self.manifest.clip):
                    configuration["embedding_function"] = chroma_function.store_function(
                        kind, self.manifest.model, self.manifest.clip
                    )
                self._collections[kind] = self._chroma().get_or_create_collection(
                    name, configuration=configuration, embedding_function=None
                )
            else:
                errors = require("chromadb.errors", "sbert-rag[index]")
                try:
                    self._collections[kind] = self._chroma().get_collection(name, embedding_function=None)
                except errors.NotFoundError:
                    return None
        return self._collections[kind]

    def read(self, kind: str, include: Sequence[str] = ()) -> CollectionRows:
        """Every record of ``kind``: ids and, when asked for, documents and metadatas."""
        with self.session():
            col = self._collection(kind)
            return read_collection(col, include) if col is not None else CollectionRows()

    # ------------------------------------------------------------------ writing
    def file_states(self, kind: str) -> dict[str, FileState]:
        """Stored records of ``kind`` that came from a folder's files, grouped by their ``file`` metadata."""
        states: dict[str, FileState] = defaultdict(FileState)
        rows = self.read(kind, ["metadatas"])
        for rid, meta in zip(rows.ids, rows.metadatas):
            if "file_hash" not in meta:
                continue  # added through Store.add_texts, not from a folder's file
            state = states[str(meta.get("file", ""))]
            state.ids.add(rid)
            state.metadatas[rid] = meta
        return dict(states)

    def write_file(
        self,
        kind: str,
        new: Sequence[Record],
        vectors: FloatMatrix | None,
        keep: Sequence[Record],
        stale: Sequence[str],
    ) -> None:
        """Bring one file's records up to date: add ``new`` (with ``vectors``), refresh ``keep``'s
        metadata, delete ``stale``; in that order, so a run killed in between loses nothing.
        """
        with self.session():
            self._mark_written(kind)
            col = self._collection(kind, create=True)
            step = self._chroma().get_max_batch_size()
            for a in range(0, len(new), step):
                part = new[a:a + step]
                col.upsert(
                    ids=[r.id for r in part],
                    embeddings=vectors[a:a + step],
                    documents=[r.document for r in part],
                    metadatas=[r.metadata for r in part],
                )
            for a in range(0, len(keep), step):
                part = keep[a:a + step]
                col.update(ids=[r.id for r in part], metadatas=[r.metadata for r in part])
            self.delete(kind, stale)

    def delete(self, kind: str, ids: Sequence[str]) -> None:
        """Delete records by id (ids not stored are ignored)."""
        if not ids:
            return
        with self.session():
            col = self._collection(kind)
            if col is None:
                return
            self._mark_written(kind)
            step = self._chroma().get_max_batch_size()
            for a in range(0, len(ids), step):
                col.delete(ids=list(ids[a:a + step]))

    # ------------------------------------------------------------------ BM25 sidecar
    @property
    def bm25_config(self) -> BM25Config:
        """The BM25 options recorded in the manifest."""
        return BM25Config.from_dict(dict(self.manifest.bm25)) if self.manifest else BM25Config()

    def indexes(
        self, kind: str, *, save: bool, bm25: bool = True, dense: bool = True, records: bool = False
    ) -> StoreIndexes:
        """The exact search indexes over the records of ``kind`` now stored.

        When the store is at rest (``state.json`` names the fingerprint of the records the last
        write left, and the sidecars carry it) they are read from the sidecars alone, without
        opening Chroma. Otherwise the stored ids are read once, and each index is its sidecar when
        that covers exactly those ids, else rebuilt from the records (an index run is writing, or
        one was killed). Dense vectors are mapped from ``STORE/dense`` (``STORE/dense-images``),
        never searched through Chroma's approximate graph, so a query gives the same ranking on
        every run.

        Args:
            kind: ``"text"`` or ``"image"`` (images have no BM25 index).
            save: write rebuilt indexes as the new sidecars and mark the store at rest (only the
                holder of the writer lock may, at the end of a write).
            bm25: load the BM25 index.
            dense: load the dense index.
            records: load the records table (texts and metadata); always written when ``save``.

        Returns:
            The indexes; each None when not asked for or when no record of ``kind`` is stored.
        """
        if not save:
            at_rest = self._at_rest(kind, bm25=bm25, dense=dense, records=records)
            if at_rest is not None:
                return at_rest
        with self.session():
            ids = self.read(kind).ids
            found = self._build(kind, ids, save=save, bm25=bm25, dense=dense, records=records)
            if save:
                self._set_state(kind, ids_fingerprint(ids))
                self._written[kind] = False
            return found

    def _build(self, kind: str, ids: list[str], *, save: bool, bm25: bool, dense: bool, records: bool) -> StoreIndexes:
        """The indexes over ``ids``: each its sidecar when that covers exactly them, else rebuilt
        from the records (and saved as the new sidecar when ``save``; then all three are built).
        """
        if not ids:
            if save:
                for folder in _SIDECARS[kind]:
                    clear_sidecar(self.path / folder)
            return StoreIndexes(ids)
        # texts and metadata are read from Chroma at most once, for BM25 and the records alike
        rows = functools.cache(lambda: self.read(kind, ["documents", "metadatas"]))
        built = StoreIndexes(
            ids,
            dense=self._dense(kind, ids, save) if dense or save else None,
            bm25=self._bm25(ids, save, rows) if (bm25 or save) and kind == "text" else None,
            records=self._records(kind, ids, save, rows) if records or save else None,
        )
        # only what was asked for: a search uses every index it is given
        return StoreIndexes(ids, built.dense if dense else None, built.bm25 if bm25 else None,
                            built.records if records else None, ids_fingerprint(ids) if save else None)

    def _at_rest(self, kind: str, *, bm25: bool, dense: bool, records: bool) -> StoreIndexes | None:
        """The sidecars when ``state.json`` says the store is at rest and they match it, else None."""
        fingerprint = self._rest_fingerprint(kind)
        if fingerprint is None:
            return None
        if fingerprint == ids_fingerprint([]):
            return StoreIndexes([], fingerprint=fingerprint)
        dense_folder, *_, records_folder = _SIDECARS[kind]
        wanted = {
            "dense": (dense, dense_folder, None, lambda p: DenseIndex.load(p, mmap=True)),
            "bm25": (bm25 and kind == "text", "bm25", self.bm25_config, None),
            "records": (records, records_folder, None, RecordTable.load),
        }
        found: dict[str, Any] = {}
        for name, (asked, folder, config, loader) in wanted.items():
            if asked:
                found[name] = load_sidecar_at(self.path / folder, fingerprint, config, loader=loader)
                if found[name] is None:
                    return None
        return StoreIndexes(None, **found, fingerprint=fingerprint)

    def records_at(self, kind: str, fingerprint: str) -> RecordTable | None:
        """The records table of ``kind`` saved for the ids of ``fingerprint``, else None (then read Chroma)."""
        return load_sidecar_at(self.path / _SIDECARS[kind][-1], fingerprint, loader=RecordTable.load)

    def records_at_rest(self, kind: str) -> RecordTable | None:
        """The records table of ``kind`` when the store is at rest, else None (then read Chroma)."""
        found = self._at_rest(kind, bm25=False, dense=False, records=True)
        return found.records if found is not None else None

    def _rest_fingerprint(self, kind: str) -> str | None:
        """The fingerprint of ``kind``'s records when the store is at rest, else None."""
        fingerprint = self._state().get(kind)
        return fingerprint if isinstance(fingerprint, str) else None

    def _state(self) -> dict[str, Any]:
        try:
            state = json.loads((self.path / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _mark_written(self, kind: str) -> None:
        """Before a write of ``kind``: searches read Chroma, and every sidecar is dropped.

        Sidecars are stamped with the ids they cover, and an id may get new content (a text
        added again under its id, refreshed metadata), so after a write none is trusted until
        ``indexes(save=True)`` rebuilds them from the records.
        """
        if self._written.get(kind):
            return
        self._set_state(kind, None)
        for folder in _SIDECARS[kind]:
            clear_sidecar(self.path / folder)
        self._written[kind] = True

    def _set_state(self, kind: str, fingerprint: Any) -> None:
        """Record ``kind``'s records as at rest with ``fingerprint``, or (None) as being written."""
        state = self._state()
        if kind in state and state[kind] == fingerprint:
            return
        state[kind] = fingerprint
        tmp = self.path / f"{STATE_FILE}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.path / STATE_FILE)

    def _records(self, kind: str, ids: list[str], save: bool, texts: Callable[[], CollectionRows]) -> RecordTable:
        folder = self.path / _SIDECARS[kind][-1]
        table = load_sidecar(folder, ids, loader=RecordTable.load)
        if table is not None:
            return table
        rows = texts()
        table = RecordTable(rows.ids, rows.documents, rows.metadatas)
        if save:
            save_sidecar(table, folder)
        return table

    def _dense(self, kind: str, ids: list[str], save: bool) -> DenseIndex:
        folder = self.path / _SIDECARS[kind][0]
        index = load_sidecar(folder, ids, loader=lambda p: DenseIndex.load(p, mmap=True))
        if index is not None:
            return index
        rows = self.read(kind, ["embeddings"])
        vectors = np.asarray(rows.embeddings, dtype=np.float32).reshape(len(rows.ids), -1)  # (n, dim)
        index = DenseIndex(vectors.shape[1], "cosine")
        index.add(rows.ids, vectors)
        if save:
            save_sidecar(index, folder)
        return index

    def _bm25(self, ids: list[str], save: bool, texts: Callable[[], CollectionRows]) -> BM25Index:
        index = load_sidecar(self.path / "bm25", ids, self.bm25_config)
        if index is not None:
            return index
        rows = texts()
        include_title = bool(self.manifest.chunking.get("include_title", True)) if self.manifest else True
        passages = [
            passage_text(Chunk("", doc, 0, len(doc), title=str(meta.get("title", ""))), include_title)
            for doc, meta in zip(rows.documents, rows.metadatas)
        ]
        index = BM25Index.from_texts(rows.ids, passages, self.bm25_config)
        if save:
            save_sidecar(index, self.path / "bm25")
        return index

    # ------------------------------------------------------------------ reading
    def ids_where(self, kind: str, where: Mapping[str, Any]) -> set[str]:
        """Ids of the records of ``kind`` whose metadata match a Chroma ``where`` filter.

        Raises:
            InvalidInputError: Chroma refuses the filter (its reason is kept).
        """
        with self.session():
            col = self._collection(kind)
            if col is None:
                return set()
            try:
                return set(col.get(where=dict(where), include=[])["ids"])
            except ValueError as err:
                raise InvalidInputError(
                    f"where={dict(where)!r} is not a valid metadata filter: {err}; use Chroma's filter "
                    f"syntax, e.g. {{'file': 'a.md'}} or {{'page': {{'$gte': 2}}}}"
                ) from err

    def fetch(self, kind: str, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Stored text and metadata of records by id; ids no longer stored are absent."""
        if not ids:
            return {}
        with self.session():
            col = self._collection(kind)
            if col is None:
                return {}
            got = col.get(ids=list(ids), include=["documents", "metadatas"])
        return {rid: (doc or "", dict(meta or {})) for rid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])}

    def count(self, kind: str) -> int:
        """Number of records of ``kind``."""
        with self.session():
            col = self._collection(kind)
            return col.count() if col is not None else 0

    def counts(self) -> dict[str, int]:
        """``files`` (distinct files with records), ``chunks`` and ``images``."""
        with self.session():
            files = set(self.file_states("text")) | set(self.file_states("image"))
            return {"files": len(files), "chunks": self.count("text"), "images": self.count("image")}
