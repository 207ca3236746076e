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
"""

from __future__ import annotations

import bisect
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
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
class _Plan:
    """The writes one file needs; ``inputs`` (passages or images) align with ``new``."""

    kind: str
    new: list[Record]
    inputs: list[Any]
    keep: list[Record]
    stale: list[str]


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
    """Runs one index pass of ``root`` into ``store`` (see the module docstring)."""

    def __init__(self, store: IndexStore, models: StoreModels, root: Path, options: IndexOptions) -> None:
        """Prepare a run; the store must have a manifest (``prepare_store``) and its lock held."""
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
        self.report = IndexReport(str(store.path), str(root), self.manifest.model_name)

    @property
    def chunker(self) -> Chunker:
        """The chunker of the recorded settings (loads the text model on first use)."""
        if self._chunker is None:
            self._chunker = self.models.chunker(self.manifest.chunking)
        return self._chunker

    def run(self) -> IndexReport:
        """Index the folder; returns the report (also kept as ``self.report``)."""
        started = time.perf_counter()
        report = self.report
        walk = walk_folder(self.root, images=self.models.has_clip, exclude=(self.store.path,))
        report.files, report.ignored = len(walk.files), dict(sorted(walk.ignored.items()))
        with self.store.session():
            states = {kind: self.store.file_states(kind) for kind in ("text", "image")}
        tqdm = require("tqdm").tqdm
        bar = tqdm(total=len(walk.files), desc="indexing", unit="file", file=sys.stderr,
                   disable=not self.options.progress, dynamic_ncols=True)
        pending: list[_Plan] = []
        try:
            for source in walk.files:
                kind = "image" if source.kind == "image" else "text"
                state = states[kind].get(source.rel, FileState())
                plan = self._plan(source, kind, state)
                if plan is None:
                    bar.update(1)
                    continue
                pending.append(plan)
                if self._batch_full(pending):
                    self._flush(pending, bar)
                    pending = []
            self._flush(pending, bar)
        finally:
            bar.close()
        with self.store.session():
            self._prune({f.rel for f in walk.files}, states)
            for kind in ("text", "image"):
                self.store.indexes(kind, save=True)
            report.totals = self.store.counts()
        self.manifest.touch()
        self.store.write_manifest(self.manifest)
        report.seconds = round(time.perf_counter() - started, 2)
        return report

    # ------------------------------------------------------------------ planning
    def _plan(self, source: SourceFile, kind: str, state: FileState) -> _Plan | None:
        """The writes ``source`` needs, or None when it is unchanged or skipped (then reported)."""
        try:
            data = read_bytes(source.path, self.options.max_file_bytes)
            digest = file_hash(data)
            if state.complete(digest):
                self.report.unchanged += 1
                return None
            if kind == "text":
                records, inputs = self._text_records(source, data, digest)
            else:
                records, inputs = self._image_records(source, data, digest)
        except InvalidInputError as err:
            self.report.skipped.append(SkippedFile(source.rel, str(err), len(state.ids)))
            return None
        expected = {r.id for r in records}
        new = [(r, x) for r, x in zip(records, inputs) if r.id not in state.ids]
        keep = [r for r in records if r.id in state.ids and state.metadatas.get(r.id) != r.metadata]
        stale = sorted(state.ids - expected)
        return _Plan(kind, [r for r, _ in new], [x for _, x in new], keep, stale)

    def _text_records(self, source: SourceFile, data: bytes, digest: str) -> tuple[list[Record], list[str]]:
        extracted = extract(data, source.kind)
        chunks = self.chunker.split(source.rel, extracted.text, extracted.title)
        records, passages = [], []
        for i, chunk in enumerate(chunks):
            passage = self.chunker.passage_text(chunk)
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

    def _image_records(self, source: SourceFile, data: bytes, digest: str) -> tuple[list[Record], list[Any]]:
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

    def _batch_full(self, pending: list[_Plan]) -> bool:
        texts = sum(len(p.new) for p in pending if p.kind == "text")
        images = sum(len(p.new) for p in pending if p.kind == "image")
        return texts >= self.options.embed_batch or images >= IMAGE_BATCH

    # ------------------------------------------------------------------ writing
    def _flush(self, pending: list[_Plan], bar: Any) -> None:
        """Embed the new records of ``pending`` in one call per kind, then write file by file."""
        if not pending:
            return
        vectors = {kind: self._embed(kind, [x for p in pending if p.kind == kind for x in p.inputs])
                   for kind in ("text", "image")}
        offsets = {"text": 0, "image": 0}
        with self.store.session():  # one turn at the access lock for the whole batch
            for plan in pending:
                a = offsets[plan.kind]
                offsets[plan.kind] += len(plan.new)
                self.store.write_file(plan.kind, plan.new, vectors[plan.kind][a:a + len(plan.new)], plan.keep,
                                      plan.stale)
                self._count(plan)
                bar.update(1)

    def _count(self, plan: _Plan) -> None:
        self.report.written += 1
        if plan.kind == "text":
            self.report.chunks_added += len(plan.new)
            self.report.chunks_removed += len(plan.stale)
        else:
            self.report.images_added += len(plan.new)
            self.report.images_removed += len(plan.stale)

    def _embed(self, kind: str, inputs: list[Any]) -> np.ndarray:
        if not inputs:
            return np.zeros((0, 0), dtype=np.float32)
        if kind == "text":
            return self.models.text.encode_passages(inputs, show_progress=False)
        return self.models.clip.encode_images(inputs)

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

