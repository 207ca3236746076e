"""``sbert_rag.Store``: the one persistent store every front end opens.

Owns the public face of a store folder (layout in ``sbert_rag.indexing.store``; record schema in
docs/store.md): opening it with its recorded models, writing to it under the writer lock
(``add_folder`` runs the resumable indexer, ``add_texts`` stores passages the caller chunked,
``delete`` removes records) and searching it (``search``: hybrid, dense or BM25, exact and
repeatable; ``search_by_image``). The command line, the LangChain and LlamaIndex retrievers and
vector stores, and the Chroma helpers are translators over this class: none of them holds a
search, a fusion, an id scheme or a model check of its own. Deliberately prints nothing and
parses no arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sbert_rag.config import EncoderConfig
from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.indexing.indexer import Indexer, IndexOptions, IndexReport, prepare_store
from sbert_rag.indexing.models import ModelOptions, StoreModels
from sbert_rag.indexing.records import content_id, ids_fingerprint
from sbert_rag.indexing.searcher import (
    MODES,
    SearchHit,
    check_query,
    fetch_hits,
    rank_store,
    search_images,
    search_store,
)
from sbert_rag.indexing.sidecar import sidecar_fingerprint
from sbert_rag.indexing.server import ServerStore, is_server_location
from sbert_rag.indexing.store import IndexStore, Record
from sbert_rag.retrieval.fusion import FusionConfig
from sbert_rag.types import Hit

RESERVED_KEYS = frozenset({"file", "file_hash", "kind", "format", "start", "end", "chunk", "chunks"})
"""Metadata keys the store writes itself; ``add_texts`` refuses them in user metadata (``title``, a
string, and ``page``, an integer, are taken: they are the hit's ``title`` and ``page``)."""


class Store:
    """A store folder: Chroma records, exact dense and BM25 sidecars, manifest, writer lock.

    Example:
        >>> store = Store.open(".sbert_rag", create=True)
        >>> store.add_folder("docs/")                      # resumable; unchanged files are skipped
        >>> hits = store.search("how do I stop silent truncation", k=3)
        >>> hits[0].file, hits[0].start, hits[0].end, hits[0].score
    """

    def __init__(self, records: IndexStore, models: StoreModels, fusion: FusionConfig | None = None) -> None:
        """Wrap an opened ``IndexStore`` and its models (prefer :meth:`open`)."""
        self.records = records
        self.models = models
        self.fusion = fusion or FusionConfig()

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        create: bool = False,
        config: EncoderConfig | None = None,
        model: str | None = None,
        clip: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = EncoderConfig.batch_size,
        fusion: FusionConfig | None = None,
        collection: str | None = None,
        token: str | None = None,
    ) -> Store:
        """Open a store folder, or a store on a Chroma server; models load on first use, checked
        against what the store recorded.

        Args:
            path: the store folder, or a Chroma server's URL ``http://HOST:PORT`` (``/NAME`` may
                name the collection): the records then live on that server, and this machine
                keeps the search indexes in a cache folder (docs/scale.md).
            create: allow a folder that holds no store yet (it is created by the first write).
            config: the whole text encoder config; None = the one the store recorded (for a new
                store the packaged default's), with ``model``, ``device``, ``dtype`` and
                ``batch_size`` below.
            model: text model folder, Hub id or ``packaged:all-MiniLM-L6-v2``; None = the one the
                store recorded (for a new store, the packaged all-MiniLM-L6-v2).
            clip: CLIP model folder (``CLIPEncoder.save``) to index and search images; None = the
                store's, if any.
            device: torch device for the models, or ``"auto"``.
            dtype: compute dtype of the text model (``auto``, ``float32``, ``bfloat16``, ...).
            batch_size: texts or images per forward pass.
            fusion: hybrid fusion options; None = the tuned defaults.
            collection: a server store's collection when the URL names none (None = ``sbert_rag``).
            token: a server store's token (sent as ``Authorization: Bearer``); None = the
                ``CHROMA_TOKEN`` environment variable, if set.

        Raises:
            ConfigError: the folder (collection) holds no store and ``create`` is False, or
                ``model``/``clip`` differ from the recorded ones (both are named).
            StoreUnavailableError: the server does not answer or refuses the token.
            ModelLoadError: the manifest is unreadable.
        """
        if is_server_location(path):
            records: IndexStore = ServerStore.open(str(path), must_exist=not create, collection=collection, token=token)
        elif collection is not None or token is not None:
            raise InvalidInputError(
                f"collection and token are for stores on a Chroma server (http://HOST:PORT); {str(path)!r} is "
                f"a folder", settings=("collection", "token"),
            )
        else:
            records = IndexStore.open(path, must_exist=not create)
        models = StoreModels(records.location, records.manifest, ModelOptions(
            model=model, clip=clip, device=device, dtype=dtype, batch_size=batch_size, encoder=config,
        ))
        return cls(records, models, fusion)

    @property
    def path(self) -> Path:
        """The store folder (absolute); for a server store, this machine's cache folder of it."""
        return self.records.path

    @property
    def location(self) -> str:
        """Where the records live, as :meth:`open` takes it: the folder, or the server's URL and collection."""
        return self.records.location

    @property
    def dim(self) -> int:
        """Dimension of the text vectors (the recorded one; a new store loads its model to tell)."""
        manifest = self.records.manifest
        return manifest.dim if manifest is not None else int(self.models.text.dim)

    def ids_where(self, where: Mapping[str, Any], kind: str = "text") -> list[str]:
        """Ids of the records (``kind`` ``text`` or ``image``) whose metadata match a Chroma filter, sorted.

        Raises:
            InvalidInputError: the filter is not valid Chroma syntax, or ``kind`` is unknown.
        """
        if kind not in ("text", "image"):
            raise InvalidInputError(f"kind must be 'text' or 'image'; got {kind!r}")
        if self.records.manifest is None:
            return []
        return sorted(self.records.ids_where(kind, where))

    # ------------------------------------------------------------------ writing
    def add_folder(
        self,
        folder: str | Path,
        *,
        prune: bool = False,
        moved: bool = False,
        max_tokens: int | None = None,
        overlap_tokens: int | None = None,
        options: IndexOptions | None = None,
    ) -> IndexReport:
        """Index a folder's text, Markdown, HTML and PDF files (and images, with a CLIP model).

        Idempotent and resumable: files whose records are complete are not read again, and a run
        killed at any point and run again ends with exactly the records of a clean run.

        Args:
            folder: the folder to index; the store records it, and record paths are relative to it.
            prune: delete the records of files no longer in the folder.
            moved: the recorded folder was moved to ``folder`` (records keep their paths).
            max_tokens: tokens per chunk for a new store (None = the model's limit).
            overlap_tokens: tokens shared by consecutive chunks for a new store (None = 32).
            options: further run options (batching, file size limit, progress bar); ``prune`` and
                ``moved`` above take precedence.

        Returns:
            What the run did.

        Raises:
            InvalidInputError: ``folder`` is not a folder.
            StoreLockedError: another process is writing the store.
            ConfigError: the store records another folder, other chunking settings or another model.
        """
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise InvalidInputError(f"{str(folder)!r} is not a folder; pass the folder to index")
        return self.run_indexer(root.resolve(), prune=prune, moved=moved, max_tokens=max_tokens,
                                overlap_tokens=overlap_tokens, options=options)

    def run_indexer(
        self, root: Path | None, *, prune: bool = False, moved: bool = False, max_tokens: int | None = None,
        overlap_tokens: int | None = None, options: IndexOptions | None = None,
        indexer: Callable[..., Indexer] = Indexer,
    ) -> IndexReport:
        """One index run under the store's writer lock: the manifest is created or checked, then
        ``indexer(records, models, root, options).run()`` (``Indexer``, or another engine's
        subclass, e.g. ``sbert_rag.distributed``'s) brings the records in line with the files.

        Args:
            root: the folder indexed (absolute), recorded by the store; None = files named
                as given (a dataset of files).
            prune, moved, max_tokens, overlap_tokens, options: as for :meth:`add_folder`.
            indexer: builds the run.
        """
        base = options or IndexOptions(progress=False)
        run_options = IndexOptions(**{**asdict(base), "prune": prune or base.prune, "moved": moved or base.moved})
        with self.records.writer():
            self._reopen()
            prepare_store(self.records, self.models, root,
                          {"max_tokens": max_tokens, "overlap_tokens": overlap_tokens}, moved=run_options.moved)
            return indexer(self.records, self.models, root, run_options).run()

    def add_texts(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Store passages the caller already cut (one record each), embedded as passages.

        Args:
            texts: non-blank passages; each should fit the model (longer ones follow the model's
                overflow policy, ``warn`` by default: cut, with a warning naming them).
            metadatas: one dict of scalar values (str, int, float, bool) or None per text; the
                store's own keys (``RESERVED_KEYS``) are refused. A ``source`` key is shown as
                the hit's ``file``, ``title`` (str) and ``page`` (int) as its title and page.
            ids: one unique, non-empty id (or None) per text; None = content hashes (the same
                text twice is stored once). A stored id is overwritten.

        Returns:
            The ids, in order.

        Raises:
            InvalidInputError: a text is blank, lengths differ, an id is empty or repeats, or a
                metadata key is reserved or a value is not a scalar.
            StoreLockedError: another process is writing the store.
        """
        texts = _checked_texts(list(texts))
        metas = [dict(m or {}) for m in metadatas] if metadatas is not None else [{} for _ in texts]
        given = list(ids) if ids is not None else [None] * len(texts)
        if not len(texts) == len(metas) == len(given):
            raise InvalidInputError(
                f"got {len(texts)} texts, {len(metas)} metadatas and {len(given)} ids; pass one of each per text"
            )
        ids = [content_id(t) if i is None else i for t, i in zip(texts, given)]
        _check_records(texts, metas, ids)
        if not texts:
            return []
        records = []
        for rid, text, meta in zip(ids, texts, metas):
            file = str(meta.get("source", ""))
            meta = {key: value for key, value in meta.items() if value is not None}  # Chroma stores no None
            records.append(Record(rid, text, {**meta, "kind": "text", "file": file, "start": 0, "end": len(text)}))
        first = {r.id: r for r in records}  # a repeated content id is one record
        unique = list(first.values())
        with self.records.writer():
            self._reopen()
            self._ensure_manifest()
            vectors = self.models.text.encode_passages([r.document for r in unique], show_progress=False)
            self.records.write_file("text", unique, vectors, [], [])
            self.records.indexes("text", save=True)
        return ids

    def delete(self, ids: Sequence[str]) -> None:
        """Delete records (text or image) by id; ids not stored are ignored.

        Raises:
            StoreLockedError: another process is writing the store.
        """
        ids = [str(i) for i in ids]
        if not ids or self.records.manifest is None:
            return
        with self.records.writer():
            for kind in ("text", "image"):
                self.records.delete(kind, ids)
                self.records.indexes(kind, save=True)

    # ------------------------------------------------------------------ reading
    def search(
        self, query: str, k: int = 10, mode: str = "hybrid", where: Mapping[str, Any] | None = None,
        fusion: FusionConfig | None = None,
    ) -> list[SearchHit]:
        """The best ``k`` chunks (and images, with a CLIP model) for ``query``.

        Dense search is exact (every stored vector is scored), so the same query gives the same
        ranked ids on every run. Text and image hits share one score scale: each ranking's
        scores are min-max scaled to [0, 1] before they are merged.

        Args:
            query: the query text, not blank.
            k: results wanted, >= 1; fewer when the store holds fewer (or BM25 matches fewer).
            mode: ``"hybrid"`` (dense and BM25 fused), ``"dense"`` or ``"bm25"``.
            where: a Chroma metadata filter (e.g. ``{"file": "a.md"}``); None = every record.
            fusion: hybrid fusion options for this call; None = the store's (``self.fusion``).

        Returns:
            Up to ``k`` hits, best first; empty for an empty store.

        Raises:
            InvalidInputError: the query is blank, ``k`` < 1, or ``mode`` is unknown.
        """
        if self.records.manifest is None:  # a new store nothing was written to yet
            check_query(query, k, mode)
            return []
        return search_store(self.records, self.models, query, k, mode, fusion or self.fusion, where)

    def rank(
        self, queries: Sequence[str], k: int = 10, mode: str = "hybrid",
        where: Mapping[str, Any] | None = None, by: str = "chunk",
    ) -> list[list[Hit]]:
        """Ranked ids for many queries in one pass (what :meth:`search` ranks, without the records).

        Args:
            queries: query texts, none blank.
            k, mode, where: as for :meth:`search`.
            by: ``"chunk"`` (record ids) or ``"file"`` (the indexed files' relative paths, each
                scored by its best chunk before fusion, as whole documents; text only).

        Returns:
            One list of at most ``k`` ``Hit`` per query, best first.

        Raises:
            InvalidInputError: as :meth:`search`, or ``by`` is unknown.
        """
        if self.records.manifest is None:
            for query in queries:
                check_query(query, k, mode)
            return [[] for _ in queries]
        return rank_store(self.records, self.models, queries, k, mode, self.fusion, where, by)

    def search_by_image(self, image: Any, k: int = 10) -> list[SearchHit]:
        """The ``k`` stored images nearest to ``image`` (a path, bytes, PIL image or array), by CLIP.

        Raises:
            ConfigError: the store has no CLIP model.
            InvalidInputError: ``k`` < 1 or the image cannot be read.
        """
        if not self.models.has_clip:
            raise ConfigError(f"store {self.location!r} holds no images (it has no CLIP model); "
                              f"open it with a CLIP model and index images first")
        return search_images(self.records, self.models, image, k)

    def get(self, ids: Sequence[str]) -> list[SearchHit]:
        """Stored records by id (text first, then images), in the order given; unknown ids are left out."""
        if self.records.manifest is None:
            return []
        return fetch_hits(self.records, [str(i) for i in ids])

    def info(self) -> dict[str, Any]:
        """The store's facts, JSON-plain: folder, model, dims, counts, settings, sidecar states."""
        manifest = self.records.manifest
        if manifest is None:
            raise ConfigError(f"no sbert-rag store at {self.location!r} yet; add a folder or texts first")
        with self.records.session():  # one consistent view while an index run writes
            ids = self.records.read("text").ids
            counts = self.records.counts()
        states = {}
        server = self.location != str(self.path)
        for name in ("bm25", "dense"):
            saved = sidecar_fingerprint(self.path / name)
            stale = ("stale (the next search rebuilds this machine's cache)" if server
                     else "stale (rebuilt in memory by searches until the next write)")
            states[name] = "none needed" if not ids else (
                ("not built on this machine yet" if server else "missing") if saved is None
                else "current" if saved == ids_fingerprint(ids) else stale
            )
        return {
            "store": self.location,
            **({"cache": str(self.path)} if server else {}),
            "root": manifest.root,
            "format_version": manifest.format_version,
            "model": manifest.model_name,
            "dims": manifest.dim,
            "model_config": manifest.model,
            "encoder": manifest.encoder,
            "clip": manifest.clip,
            **counts,
            "settings": {"chunking": manifest.chunking, "bm25": manifest.bm25},
            "bm25_sidecar": states["bm25"],
            "dense_sidecar": states["dense"],
            "created": manifest.created,
            "updated": manifest.updated,
        }

    # ------------------------------------------------------------------ internals
    def _reopen(self) -> None:
        """Re-read the manifest under the writer lock (another process may have created the store)."""
        fresh = self.records.read_manifest()
        if fresh is not None and self.records.manifest is None:
            self.records.manifest = self.models.manifest = fresh

    def _ensure_manifest(self) -> None:
        if self.records.manifest is None:
            prepare_store(self.records, self.models, None, {}, moved=False)


def _is_int(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _checked_texts(texts: list[str]) -> list[str]:
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"text {i} is empty, blank or not a string: {text!r}; pass some words")
    return texts


def _check_records(texts: list[str], metas: list[dict[str, Any]], ids: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, (rid, meta) in enumerate(zip(ids, metas)):
        if not isinstance(rid, str) or not rid:
            raise InvalidInputError(f"id {i} must be a non-empty string; got {rid!r}")
        if rid in seen and texts[seen[rid]] != texts[i]:
            raise InvalidInputError(f"id {rid!r} is given to text {seen[rid]} and text {i}; ids must be unique")
        seen.setdefault(rid, i)
        if not isinstance(meta.get("title", ""), str) or not _is_int(meta.get("page", 0)):
            raise InvalidInputError(
                f"metadata {i}: 'title' must be a string and 'page' an integer; got {meta.get('title')!r}, "
                f"{meta.get('page')!r}"
            )
        reserved = sorted(RESERVED_KEYS & set(meta))
        if reserved:
            raise InvalidInputError(
                f"metadata {i} uses the store's own key(s) {reserved}; rename them (the store sets "
                f"{sorted(RESERVED_KEYS)} itself)"
            )
        for key, value in meta.items():
            if not isinstance(key, str) or not (value is None or isinstance(value, (str, int, float, bool))):
                raise InvalidInputError(
                    f"metadata {i} key {key!r} holds {type(value).__name__} {value!r}; values must be str, "
                    f"int, float or bool"
                )


__all__ = ["MODES", "RESERVED_KEYS", "SearchHit", "Store"]
