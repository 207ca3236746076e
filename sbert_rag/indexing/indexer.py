"""One ``sbert-rag index`` run: bring a store in line with a folder, resumably and idempotently.

Owns the run. For each file it computes the records a clean run would store (ids are content
hashes of path, offset and passage) and compares them with the records stored for that file:
a file whose records all name its current hash and number its chunk count is unchanged and is
not even parsed; otherwise missing records are embedded and added, kept ones get fresh metadata
and stale ones are deleted, in that order. Whatever point an earlier run was killed at, this
converges on exactly the records of a clean run, none twice, none lost. Embedding is batched
across files; records are written file by file. Unreadable or malformed files are skipped with a
reason, keeping what an earlier run stored for them. Deliberately does not parse arguments or
print the summary (``sbert_rag.commands.index``).

The run is cut in three shared pieces so that other executors reuse them unchanged:
``plan_file`` (one file: read, hash, completeness check, extract, chunk, records and their
inputs, new/keep/stale), ``Indexer.write`` (the driver side: embedded plans written file by file
and counted) and ``Indexer.run`` (states, the overridable ``Indexer.index_files`` step, prune,
sidecars, manifest). ``sbert_rag.distributed`` plans and embeds on Ray actors and writes here.
"""

from __future__ import annotations

import bisect
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np

from sbert_rag._deps import require
from sbert_rag.chunking import Chunker
from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.indexing.files import SourceFile, file_hash, read_bytes, walk_folder
from sbert_rag.indexing.manifest import Manifest, check_chunking, check_root
from sbert_rag.indexing.models import StoreModels
from sbert_rag.indexing.readers import extract
from sbert_rag.indexing.records import content_id
from sbert_rag.indexing.store import FileState, IndexStore, Record
from sbert_rag.retrieval.bm25 import BM25Config

IMAGE_BATCH = 16  # decoded images held before embedding: photos are large in memory


@dataclass(frozen=True)
class IndexOptions:
    """Options of one run.

    Attributes:
        prune: delete the records of files no longer in the folder.
        embed_batch: chunks gathered across files before one embedding call.
        max_file_bytes: larger files are skipped with a reason.
        progress: show a progress bar on stderr.
        moved: the recorded folder was moved to the one indexed now (records keep their paths).
    """

    prune: bool = False
    embed_batch: int = 256
    max_file_bytes: int = 50_000_000
    progress: bool = True
    moved: bool = False


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of this run.

    Attributes:
        file: its path relative to the folder.
        reason: why.
        kept: records of an earlier version of it still in the store.
    """

    file: str
    reason: str
    kept: int = 0


@dataclass
class IndexReport:
    """What a run did; ``to_dict`` is the ``--json`` summary."""

    store: str
    root: str
    model: str
    files: int = 0
    unchanged: int = 0
    written: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    images_added: int = 0
    images_removed: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    pruned_files: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-plain summary."""
        return asdict(self)


@dataclass
class FilePlan:
    """The writes one file needs; ``inputs`` (passages or images) align with ``new``.

    Attributes:
        file: the file's path relative to the folder (its records' ``file``).
        kind: ``"text"`` or ``"image"``.
        new: records to embed and add.
        inputs: what is embedded for each new record (its passage text, or its decoded image).
        keep: stored records whose metadata changes (no embedding).
        stale: ids of stored records to delete.
    """

    file: str
    kind: str
    new: list[Record]
    inputs: list[Any]
    keep: list[Record]
    stale: list[str]


def record_kind(source: SourceFile) -> str:
    """The record kind of a file: ``"image"`` for images, ``"text"`` for everything read as text."""
    return "image" if source.kind == "image" else "text"


def plan_file(
    source: SourceFile,
    state: FileState,
    chunker: Callable[[], Chunker],
    *,
    max_file_bytes: int,
    data: bytes | None = None,
) -> FilePlan | SkippedFile | None:
    """The writes one file needs to match a clean run, against what the store holds for it.

    Reads the file (unless ``data`` is given), hashes it, and returns None at once when the
    stored records are complete for this version (nothing parsed, no model loaded). Otherwise
    extracts and chunks it (text) or decodes it (image) and compares the records of a clean run
    with ``state``: records not stored are new, stored ones with other metadata are kept with
    fresh metadata, stored ones not expected are stale.

    Args:
        source: the file.
        state: what the store holds for ``source.rel``.
        chunker: returns the chunker of the store's recorded settings (called only when a text
            file must be chunked, so an unchanged folder loads no model).
        max_file_bytes: larger files are skipped with a reason (when read here).
        data: the file's bytes, already read (e.g. a Ray dataset's ``bytes`` column).

    Returns:
        The plan; None when the file is unchanged; a ``SkippedFile`` (with the reason and the
        number of records an earlier version left) when it is unreadable or malformed.
    """
    kind = record_kind(source)
    try:
        if data is None:
            data = read_bytes(source.path, max_file_bytes)
        digest = file_hash(data)
        if state.complete(digest):
            return None
        if kind == "text":
            records, inputs = text_records(source, data, digest, chunker())
        else:
            records, inputs = image_records(source, data, digest)
    except InvalidInputError as err:
        return SkippedFile(source.rel, str(err), len(state.ids))
    expected = {r.id for r in records}
    new = [(r, x) for r, x in zip(records, inputs) if r.id not in state.ids]
    keep = [r for r in records if r.id in state.ids and state.metadatas.get(r.id) != r.metadata]
    stale = sorted(state.ids - expected)
    return FilePlan(source.rel, kind, [r for r, _ in new], [x for _, x in new], keep, stale)


def text_records(source: SourceFile, data: bytes, digest: str, chunker: Chunker) -> tuple[list[Record], list[str]]:
    """The records of a clean run for a text file version, and the passage each embeds.

    Raises:
        InvalidInputError: the file cannot be decoded or parsed.
    """
    extracted = extract(data, source.kind)
    chunks = chunker.split(source.rel, extracted.text, extracted.title)
    records, passages = [], []
    for i, chunk in enumerate(chunks):
        passage = chunker.passage_text(chunk)
        meta: dict[str, Any] = {
            "file": source.rel, "file_hash": digest, "kind": "text", "format": source.kind,
            "start": chunk.start, "end": chunk.end, "chunk": i, "chunks": len(chunks), "title": extracted.title,
        }
        if extracted.page_starts:
            meta["page"] = bisect.bisect_right(extracted.page_starts, chunk.start)  # 1-based
        # the offset keeps two equal passages of one file apart
        records.append(Record(content_id(passage, f"{source.rel}\x00{chunk.start}"), chunk.text, meta))
        passages.append(passage)
    return records, passages


def image_records(source: SourceFile, data: bytes, digest: str) -> tuple[list[Record], list[Any]]:
    """The one record of an image file version, and the decoded image it embeds.

    Raises:
        InvalidInputError: the bytes are not an image PIL reads.
    """
    from sbert_rag.image.images import load_image

    try:
        image = load_image(data)
    except InvalidInputError as err:
        # drop load_image's "image 0 (bytes): " prefix: the summary names the file itself
        raise InvalidInputError(str(err).split(": ", 1)[-1]) from err
    meta = {
        "file": source.rel, "file_hash": digest, "kind": "image", "format": source.path.suffix.lower(),
        "start": 0, "end": 0, "chunk": 0, "chunks": 1, "title": "",
    }
    return [Record(content_id(f"image {digest}", source.rel), source.rel, meta)], [image]


def embed_inputs(models: StoreModels, kind: str, inputs: list[Any]) -> np.ndarray:
    """Embed the inputs of new records of one kind: passages by the text model, images by CLIP."""
    if not inputs:
        return np.zeros((0, 0), dtype=np.float32)
    if kind == "text":
        return models.text.encode_passages(inputs, show_progress=False)
    return models.clip.encode_images(inputs)


def prepare_store(
    store: IndexStore, models: StoreModels, root: Path | None, chunking: dict[str, Any], *, moved: bool
) -> Manifest:
    """Create the manifest of a new store, or check an existing one against this run's options.

    A new store loads the text model (and CLIP) at once, to record their identities before any
    record is written.

    Args:
        store: the store, its writer lock held.
        models: the models of this run.
        root: the folder to index (absolute); None when texts are added without a folder.
        chunking: ``max_tokens`` and ``overlap_tokens`` asked for (None = recorded or default).
        moved: accept another folder than the recorded one, as the same folder moved.

    Raises:
        ConfigError: the store records another folder or other chunking settings, or the store
            folder holds files that are not a store's.
    """
    manifest = store.manifest
    if manifest is None:
        store.check_new()
        chunker = models.chunker({k: v for k, v in chunking.items() if v is not None})
        manifest = Manifest(
            root=str(root) if root is not None else "",
            model=models.identity(),
            chunking={"max_tokens": chunker.max_tokens, "overlap_tokens": chunker.config.overlap_tokens,
                      "include_title": chunker.config.include_title},
            bm25=asdict(BM25Config()),
            clip=models.clip_identity(),
            encoder=models.recorded_encoder(),
        )
    elif root is not None:
        check_root(manifest, root, store.path, moved=moved or not manifest.root)
        check_chunking(manifest, chunking, store.path)
        manifest.root = str(root)
        if models.has_clip and manifest.clip is None:
            manifest.clip = models.clip_identity()
    store.write_manifest(manifest)
    models.manifest = manifest
    return manifest


class Indexer:
    """Runs one index pass of ``root`` into ``store`` (see the module docstring).

    Subclasses change how files become embedded plans by overriding :meth:`index_files`
    (``sbert_rag.distributed`` runs it on Ray); the states, writes, prune, sidecars and manifest
    stay here.
    """

    def __init__(self, store: IndexStore, models: StoreModels, root: Path | None, options: IndexOptions) -> None:
        """Prepare a run; the store must have a manifest (``prepare_store``) and its lock held.

        ``root`` is None when the files do not come from a folder walked here (a subclass names them).
        """
        if store.manifest is None:
            raise ConfigError("the store has no manifest yet; call prepare_store first")
        if isinstance(options.embed_batch, bool) or options.embed_batch < 1:
            raise ConfigError(f"embed_batch must be an integer >= 1; got {options.embed_batch!r}")
        self.store = store
        self.models = models
        self.root = root
        self.options = options
        self.manifest = store.manifest
        self._chunker: Chunker | None = None
        self.bar: Any = None
        self.report = IndexReport(store.location, str(root) if root is not None else "", self.manifest.model_name)

    @property
    def chunker(self) -> Chunker:
        """The chunker of the recorded settings (loads the text model on first use)."""
        if self._chunker is None:
            self._chunker = self.models.chunker(self.manifest.chunking)
        return self._chunker

    def run(self) -> IndexReport:
        """Index the files; returns the report (also kept as ``self.report``)."""
        started = time.perf_counter()
        report = self.report
        with self.store.session():
            states = {kind: self.store.file_states(kind) for kind in ("text", "image")}
        tqdm = require("tqdm").tqdm
        self.bar = tqdm(total=None, desc="indexing", unit="file", file=sys.stderr,
                        disable=not self.options.progress, dynamic_ncols=True)
        try:
            present = self.index_files(states)
        finally:
            self.bar.close()
        with self.store.session():
            self._prune(present, states)
            for kind in ("text", "image"):
                self.store.indexes(kind, save=True)
            report.totals = self.store.counts()
        self.manifest.touch()
        self.store.write_manifest(self.manifest)
        report.seconds = round(time.perf_counter() - started, 2)
        return report

    def index_files(self, states: dict[str, dict[str, FileState]]) -> set[str]:
        """Plan, embed and write every file of the run (here: the folder, in this process).

        Sets ``report.files`` and ``report.ignored``, and counts each file through
        :meth:`note` or :meth:`write`.

        Args:
            states: kind -> file -> what the store held when the run began.

        Returns:
            The relative paths of the files of the run (every other stored file is missing).
        """
        walk = walk_folder(self.root, images=self.models.has_clip, exclude=(self.store.path,))
        self.report.files, self.report.ignored = len(walk.files), dict(sorted(walk.ignored.items()))
        self.bar.reset(total=len(walk.files))
        pending: list[FilePlan] = []
        for source in walk.files:
            state = states[record_kind(source)].get(source.rel, FileState())
            plan = plan_file(source, state, lambda: self.chunker, max_file_bytes=self.options.max_file_bytes)
            if not isinstance(plan, FilePlan):
                self.note(plan)
                continue
            pending.append(plan)
            if self._batch_full(pending):
                self._flush(pending)
                pending = []
        self._flush(pending)
        return {f.rel for f in walk.files}

    def note(self, outcome: SkippedFile | None) -> None:
        """Count a file that needs no write: unchanged (None) or skipped."""
        if outcome is None:
            self.report.unchanged += 1
        else:
            self.report.skipped.append(outcome)
        self.bar.update(1)

    def write(self, embedded: list[tuple[FilePlan, np.ndarray]]) -> None:
        """Write embedded plans file by file (new records with their vectors, kept, stale) and count them.

        Each file is one ``write_file``, so a run killed between two leaves whole files; all
        of them in one turn at the store's access lock.
        """
        if not embedded:
            return
        with self.store.session():
            for plan, vectors in embedded:
                self.store.write_file(plan.kind, plan.new, vectors, plan.keep, plan.stale)
                self._count(plan)
                self.bar.update(1)

    # ------------------------------------------------------------------ local embedding
    def _batch_full(self, pending: list[FilePlan]) -> bool:
        texts = sum(len(p.new) for p in pending if p.kind == "text")
        images = sum(len(p.new) for p in pending if p.kind == "image")
        return texts >= self.options.embed_batch or images >= IMAGE_BATCH

    def _flush(self, pending: list[FilePlan]) -> None:
        """Embed the new records of ``pending`` in one call per kind, then write file by file."""
        if not pending:
            return
        vectors = {kind: embed_inputs(self.models, kind, [x for p in pending if p.kind == kind for x in p.inputs])
                   for kind in ("text", "image")}
        offsets = {"text": 0, "image": 0}
        embedded = []
        for plan in pending:
            a = offsets[plan.kind]
            offsets[plan.kind] += len(plan.new)
            embedded.append((plan, vectors[plan.kind][a:a + len(plan.new)]))
        self.write(embedded)

    # ------------------------------------------------------------------ counting
    def _count(self, plan: FilePlan) -> None:
        self.report.written += 1
        if plan.kind == "text":
            self.report.chunks_added += len(plan.new)
            self.report.chunks_removed += len(plan.stale)
        else:
            self.report.images_added += len(plan.new)
            self.report.images_removed += len(plan.stale)

    def _prune(self, present: set[str], states: dict[str, dict[str, FileState]]) -> None:
        gone = sorted({rel for kind in states for rel in states[kind]} - present)
        if not self.options.prune:
            self.report.missing_files = gone
            return
        for kind, by_file in states.items():
            for rel in gone:
                if rel in by_file:
                    self.store.delete(kind, sorted(by_file[rel].ids))
                    if kind == "text":
                        self.report.chunks_removed += len(by_file[rel].ids)
                    else:
                        self.report.images_removed += len(by_file[rel].ids)
        self.report.pruned_files = gone
