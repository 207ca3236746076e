"""Ray Data ingestion: embed a dataset on a pool of actors, or index a folder into a store with them.

Owns the Ray side of scaling out (the optional extra ``sbert-rag[ray]``; Ray is imported on first
use, so this module imports without it):

- ``embed_dataset`` adds an ``embedding`` column to a ``ray.data.Dataset`` with
  ``map_batches(<callable class>, compute=ActorPoolStrategy(size=N), num_gpus=G, batch_size=B)``:
  one encoder per actor, loaded once in its ``__init__`` from an ``EncoderConfig``.
- ``index_folder_distributed`` runs the resumable indexer (``sbert_rag.indexing.indexer``) with
  the per-file work on actors: each actor loads the store's models once and, for a batch of
  files, runs the same ``plan_file`` as a local run (read, hash, skip complete files, extract,
  chunk, content-hash ids, new/keep/stale) and embeds the new records with the same models
  (``embed_inputs``: text model, or CLIP for images). The driver streams the results back
  (``iter_batches``, never the whole corpus), groups rows by file, and writes each file once all
  its rows are back, through the same ``Indexer.write`` as a local run: same ids, documents,
  metadata and vectors, the same report.

Deliberately holds no planning, id scheme, model check or store write of its own.

Fault tolerance (Ray 2.60 defaults, which this module keeps): Ray Data starts the actors of
``map_batches`` with ``max_restarts=-1`` and ``max_task_retries=-1``. An actor whose process dies
(killed, out of memory, its node lost) is restarted, loading its models again in ``__init__``,
and the batch it held is run again; the run goes on and ends with every file. An actor that dies
inside ``__init__`` is replaced until ``DataContext.max_consecutive_actor_init_deaths`` deaths in
a row end the run. A Python exception in the actor's code is not retried: the run stops with it
(unreadable or malformed files never raise; they are reported as skipped). Whenever a run stops
(that error, the driver killed, Ctrl-C), the store holds whole files only, and running it again
skips them and converges on the records of a clean run.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from sbert_rag._deps import require
from sbert_rag.config import EncoderConfig
from sbert_rag.errors import ConfigError, InvalidInputError, SbertRagError
from sbert_rag.indexing.files import SourceFile, file_kind, walk_folder
from sbert_rag.indexing.indexer import (
    FilePlan,
    Indexer,
    IndexOptions,
    IndexReport,
    SkippedFile,
    embed_inputs,
    plan_file,
    record_kind,
)
from sbert_rag.indexing.store import FileState, Record

if TYPE_CHECKING:  # pragma: no cover
    from sbert_rag.indexing.engine import Store
    from sbert_rag.indexing.models import ModelOptions

RAY_EXTRA = "sbert-rag[ray]"
"""The pip requirement that brings Ray Data."""

ROLES = ("passage", "query")


def _ray() -> Any:
    require("ray.data", RAY_EXTRA)
    return require("ray", RAY_EXTRA)


def _pool(ray: Any, concurrency: int | tuple[int, int], what: str) -> Any:
    """An ``ActorPoolStrategy`` of a fixed size ``n`` or an autoscaling ``(min, max)``."""
    strategy = ray.data.ActorPoolStrategy
    if isinstance(concurrency, tuple) and len(concurrency) == 2 and all(_positive_int(c) for c in concurrency) \
            and concurrency[0] <= concurrency[1]:
        return strategy(min_size=concurrency[0], max_size=concurrency[1])
    if _positive_int(concurrency):
        return strategy(size=concurrency)
    raise ConfigError(f"{what} must be an integer >= 1 or a (min, max) pair of them; got {concurrency!r}")


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_resources(batch_size: object, **per_actor: object) -> None:
    if not _positive_int(batch_size):
        raise ConfigError(f"batch_size must be an integer >= 1 (rows per actor call); got {batch_size!r}")
    for name, value in per_actor.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise ConfigError(f"{name} must be a number >= 0 (per actor); got {value!r}")


# ---------------------------------------------------------------------------- embed_dataset
class EmbedBatch:
    """Ray Data callable class: one text encoder per actor, loaded once; adds ``embedding``.

    Args:
        config: ``EncoderConfig.to_dict()`` of the encoder (plain data travels to every actor).
        column: the column holding the texts.
        role: ``"passage"`` or ``"query"`` (``encode_passages`` or ``encode_queries``).
    """

    def __init__(self, config: dict[str, Any], column: str, role: str) -> None:
        from sbert_rag.encoding.dual import load_encoder

        self.encoder = load_encoder(EncoderConfig.from_dict(config))
        self.column = column
        self.encode = self.encoder.encode_queries if role == "query" else self.encoder.encode_passages

    def __call__(self, batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.column not in batch:
            raise InvalidInputError(
                f"the dataset has no column {self.column!r} (it has {sorted(batch)}); pass column= the one "
                f"holding the texts"
            )
        # the encoder batches by tokens itself (max_batch_tokens): the Ray batch is only rows per call
        vectors = self.encode(list(batch[self.column]), show_progress=False)
        return {**batch, "embedding": np.ascontiguousarray(vectors, dtype=np.float32)}


def embed_dataset(
    ds: Any,
    *,
    config: EncoderConfig,
    column: str = "text",
    role: str = "passage",
    batch_size: int = 256,
    concurrency: int | tuple[int, int] = 1,
    num_gpus: float = 0,
    num_cpus: float | None = None,
) -> Any:
    """Add an ``embedding`` column (float32, unit rows when the model normalises) to a Ray dataset.

    Lazy, like every Ray Data transform: nothing runs until the result is consumed
    (``iter_batches``, ``write_parquet``, ``take``...). Each actor of the pool loads the encoder
    once; what happens when one dies is in the module docstring.

    Args:
        ds: a ``ray.data.Dataset`` with a text column.
        config: how the encoder loads (model, pooling, prompts, dtype, device, ``max_batch_tokens``);
            plain data, sent to every actor.
        column: the column holding the texts (each a non-blank string).
        role: ``"passage"`` (the passage prompt) or ``"query"`` (the query prompt).
        batch_size: rows per actor call; the encoder still sizes its forward passes by tokens.
        concurrency: actors in the pool: an integer, or ``(min, max)`` to let Ray scale it (passed
            as ``compute=ActorPoolStrategy(...)``: ``map_batches(concurrency=)`` is deprecated
            since Ray 2.51).
        num_gpus: GPUs per actor (``device="auto"`` in ``config`` then runs on the one it gets).
        num_cpus: CPUs per actor; None = Ray Data's default (1).

    Returns:
        The dataset with the ``embedding`` column added (other columns kept).

    Raises:
        ConfigError: ``config`` is not an ``EncoderConfig`` or a pool setting is out of range.
        InvalidInputError: ``role`` is unknown.
        MissingDependencyError: Ray is not installed.
    """
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {ROLES}; got {role!r}")
    if not isinstance(config, EncoderConfig):
        raise ConfigError(f"config must be an sbert_rag.EncoderConfig; got {type(config).__name__}",
                          settings=("config",))
    _check_resources(batch_size, num_gpus=num_gpus, num_cpus=num_cpus)
    ray = _ray()
    return ds.map_batches(
        EmbedBatch,
        fn_constructor_kwargs={"config": config.to_dict(), "column": column, "role": role},
        compute=_pool(ray, concurrency, "concurrency"),
        batch_size=batch_size,
        batch_format="numpy",
        num_gpus=num_gpus,
        **({} if num_cpus is None else {"num_cpus": num_cpus}),
    )


# ---------------------------------------------------------------------------- index_folder_distributed
@dataclass(frozen=True)
class RayOptions:
    """How the files of a run are spread over Ray actors.

    Attributes:
        workers: actors in the pool (each loads the store's models once).
        gpus_per_worker: GPUs per actor (fractions share one GPU).
        cpus_per_worker: CPUs per actor.
        batch_size: files per actor call (planned, then embedded together).
    """

    workers: int = 1
    gpus_per_worker: float = 0
    cpus_per_worker: float = 1
    batch_size: int = 8


_RESULT_COLUMNS = ("file", "kind", "row", "seq", "id", "document", "metadata", "embedding")
"""One row per record to add (``row="record"``, ``seq`` its place in the file's new records,
``embedding`` its float32 bytes), and one per file: ``plan`` (``seq`` new records; kept and stale
ones in ``metadata``), ``unchanged``, ``skipped`` (reason in ``document``, ``seq`` records kept)
or ``ignored`` (not a file type the store reads; reason in ``document``)."""


class IndexFiles:
    """Ray Data callable class: plans and embeds a batch of files with the store's models.

    Each actor builds the store's ``StoreModels`` (checked against the manifest, loaded on first
    use: an actor that only sees unchanged files loads none), then per call runs ``plan_file`` on
    each file and ``embed_inputs`` once per kind over the batch's new records.
    """

    def __init__(
        self,
        store: str,
        manifest: Any,
        model_options: ModelOptions,
        states: list[Any],
        max_file_bytes: int,
        root: str | None,
    ) -> None:
        from sbert_rag.indexing.models import StoreModels

        self.models = StoreModels(store, manifest, model_options)  # type: ignore[arg-type]
        self.chunking = dict(manifest.chunking)
        self.states: dict[str, dict[str, FileState]] = _ray().get(states[0])
        self.max_file_bytes = max_file_bytes
        self.root = root
        self._chunker: Any = None

    def chunker(self) -> Any:
        if self._chunker is None:
            self._chunker = self.models.chunker(self.chunking)
        return self._chunker

    def __call__(self, batch: Mapping[str, np.ndarray]) -> Any:
        rows: list[dict[str, Any]] = []
        plans: list[FilePlan] = []
        for i in range(len(batch["path"])):
            source, reason = self._source(batch, i)
            if source is None:
                rows.append(_row(str(batch["path"][i]), "", "ignored", document=reason))
                continue
            kind = record_kind(source)
            data = batch["bytes"][i] if "bytes" in batch else None
            outcome = plan_file(source, self.states[kind].get(source.rel, FileState()), self.chunker,
                                max_file_bytes=self.max_file_bytes, data=None if data is None else bytes(data))
            if outcome is None:
                rows.append(_row(source.rel, kind, "unchanged"))
            elif isinstance(outcome, SkippedFile):
                rows.append(_row(source.rel, kind, "skipped", seq=outcome.kept, document=outcome.reason))
            else:
                plans.append(outcome)
        vectors = {kind: embed_inputs(self.models, kind, [x for p in plans if p.kind == kind for x in p.inputs])
                   for kind in ("text", "image")}
        offsets = {"text": 0, "image": 0}
        for plan in plans:
            changes = {"keep": [[r.id, r.document, r.metadata] for r in plan.keep], "stale": plan.stale}
            rows.append(_row(plan.file, plan.kind, "plan", seq=len(plan.new), metadata=json.dumps(changes)))
            for j, record in enumerate(plan.new):
                vector = np.ascontiguousarray(vectors[plan.kind][offsets[plan.kind] + j], dtype="<f4")
                rows.append(_row(plan.file, plan.kind, "record", seq=j, id=record.id, document=record.document,
                                 metadata=json.dumps(record.metadata), embedding=vector.tobytes()))
            offsets[plan.kind] += len(plan.new)
        pa = require("pyarrow", RAY_EXTRA)
        types = [pa.string()] * 3 + [pa.int64()] + [pa.string()] * 3 + [pa.binary()]
        return pa.table({name: pa.array([r[name] for r in rows], type=t) for name, t in zip(_RESULT_COLUMNS, types)})

    def _source(self, batch: Mapping[str, np.ndarray], i: int) -> tuple[SourceFile | None, str]:
        path = str(batch["path"][i])
        if "file" in batch:  # a folder walked by the driver
            return SourceFile(str(batch["file"][i]), Path(path), str(batch["kind"][i])), ""
        rel = path
        if self.root is not None:
            try:
                rel = PurePosixPath(path).relative_to(self.root).as_posix()
            except ValueError:
                return None, f"outside the root folder {self.root}"
        kind, reason = file_kind(rel, self.models.has_clip)
        return (SourceFile(rel, Path(path), kind) if kind is not None else None), reason


def _row(file: str, kind: str, row: str, *, seq: int = 0, id: str = "", document: str = "", metadata: str = "",
         embedding: bytes = b"") -> dict[str, Any]:
    return {"file": file, "kind": kind, "row": row, "seq": seq, "id": id, "document": document,
            "metadata": metadata, "embedding": embedding}


@dataclass
class _Arriving:
    """Rows of one file received so far."""

    plan: FilePlan | None = None  # from the file's ``plan`` row: kept and stale records
    expected: int = 0  # new records it announced
    records: dict[int, tuple[Record, bytes]] = field(default_factory=dict)

    def complete(self) -> bool:
        return self.plan is not None and len(self.records) == self.expected

    def embedded(self) -> tuple[FilePlan, np.ndarray]:
        assert self.plan is not None
        count = self.expected
        self.plan.new = [self.records[j][0] for j in range(count)]
        vectors = (np.stack([np.frombuffer(self.records[j][1], dtype="<f4") for j in range(count)])
                   if count else np.zeros((0, 0), dtype=np.float32))
        return self.plan, vectors


class RayIndexer(Indexer):
    """An ``Indexer`` whose files are planned and embedded on Ray actors (``IndexFiles``).

    Everything else is the local run's: the states read first, ``write`` file by file, prune,
    sidecars, manifest and report.
    """

    def __init__(self, store: Any, models: Any, root: Path | None, options: IndexOptions, *,
                 ray_options: RayOptions, dataset: Any = None) -> None:
        """Prepare a run over the folder ``root``, or over ``dataset`` (``path`` and ``bytes`` columns)."""
        super().__init__(store, models, root, options)
        self.ray_options = ray_options
        self.dataset = dataset

    def index_files(self, states: dict[str, dict[str, FileState]]) -> set[str]:
        ray = _ray()
        present: set[str] = set()
        if self.dataset is None:
            walk = walk_folder(self.root, images=self.models.has_clip, exclude=(self.store.path,))
            self.report.files, self.report.ignored = len(walk.files), dict(sorted(walk.ignored.items()))
            self.bar.reset(total=len(walk.files))
            present = {f.rel for f in walk.files}
            if not walk.files:
                return present
            ds = ray.data.from_items([{"file": f.rel, "path": str(f.path), "kind": f.kind} for f in walk.files])
        else:
            ds = self.dataset
        states_ref = ray.put(states)
        opts = self.ray_options
        results = ds.map_batches(
            IndexFiles,
            fn_constructor_kwargs={
                "store": self.models.store_path, "manifest": self.manifest, "model_options": self.models.options,
                "states": [states_ref], "max_file_bytes": self.options.max_file_bytes,
                "root": str(self.root) if self.dataset is not None and self.root is not None else None,
            },
            compute=_pool(ray, opts.workers, "workers"),
            batch_size=opts.batch_size,
            batch_format="numpy",
            num_cpus=opts.cpus_per_worker,
            num_gpus=opts.gpus_per_worker,
        )
        arriving: dict[str, _Arriving] = {}
        done: set[str] = set()
        ready: list[tuple[FilePlan, np.ndarray]] = []
        for table in results.iter_batches(batch_size=None, batch_format="pyarrow"):
            for row in table.to_pylist():
                file = row["file"]
                if file in done:  # a row repeated by a retried call: the file is written already
                    continue
                if row["row"] == "ignored":
                    self.report.ignored[row["document"]] = self.report.ignored.get(row["document"], 0) + 1
                    continue
                if self.dataset is not None and row["row"] != "record" and file not in present:
                    present.add(file)
                    self.report.files += 1
                if row["row"] in ("unchanged", "skipped"):
                    done.add(file)
                    self.note(None if row["row"] == "unchanged" else SkippedFile(file, row["document"], row["seq"]))
                    continue
                entry = arriving.setdefault(file, _Arriving())
                if row["row"] == "plan":
                    changes = json.loads(row["metadata"])
                    keep = [Record(rid, doc, meta) for rid, doc, meta in changes["keep"]]
                    entry.plan = FilePlan(file, row["kind"], [], [], keep, list(changes["stale"]))
                    entry.expected = row["seq"]
                else:
                    record = Record(row["id"], row["document"], json.loads(row["metadata"]))
                    entry.records[row["seq"]] = (record, row["embedding"])
                if entry.complete():
                    ready.append(entry.embedded())
                    del arriving[file]
                    done.add(file)
            if sum(len(p.new) for p, _ in ready) >= self.options.embed_batch or len(ready) >= self.options.embed_batch:
                self.write(ready)
                ready = []
        self.write(ready)
        if arriving:
            names = sorted(arriving)
            raise SbertRagError(
                f"Ray returned only part of the records of {len(names)} file(s) ({', '.join(names[:3])}); "
                f"the files written so far are whole: run the same index again to finish"
            )
        if self.dataset is not None:
            self.report.ignored = dict(sorted(self.report.ignored.items()))
        return present


def _connect(address: str | None, num_cpus: int | None) -> bool:
    """Join (or start) a Ray runtime unless one is up; returns whether this call started it."""
    ray = _ray()
    if ray.is_initialized():
        return False
    if address is None and not os.environ.get("RAY_ADDRESS"):
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False)
    else:
        ray.init(address=address)
    return True


def index_folder_distributed(
    source: str | Path | Any,
    store: str | Path | Store,
    *,
    root: str | Path | None = None,
    prune: bool = False,
    moved: bool = False,
    max_tokens: int | None = None,
    overlap_tokens: int | None = None,
    options: IndexOptions | None = None,
    address: str | None = None,
    workers: int = 1,
    gpus_per_worker: float = 0,
    cpus_per_worker: float = 1,
    batch_size: int = 8,
    num_cpus: int | None = None,
    config: EncoderConfig | None = None,
    model: str | None = None,
    clip: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
) -> IndexReport:
    """Index a folder (or a Ray dataset of files) into a store, planning and embedding on Ray actors.

    The records are exactly a local run's (``Store.add_folder``): same ids, documents, metadata,
    and vectors from the same models at the same dtype; files complete in the store are skipped,
    each file is written whole once all its rows are back, and a run stopped at any point (an
    actor or the driver killed) ends, when run again, with the records of a clean run. What
    happens when an actor dies is in the module docstring.

    Files are read on the actors: a folder must be visible at the same path on every node (a
    shared file system), or pass a dataset that carries the bytes, e.g.
    ``ray.data.read_binary_files(DIR, include_paths=True)``.

    Args:
        source: the folder to index, or a ``ray.data.Dataset`` with a ``path`` column (the
            record's file name, made relative to ``root`` when given) and a ``bytes`` column
            (without it, files are read from ``path`` on the actors); names must be unique.
        store: a store location as ``Store.open`` takes it (a folder, created when new), or an
            opened ``Store`` (then the model options below must be left out).
        root: for a dataset: the folder its paths are under (the store records it, and record
            names are relative to it); None = the paths as given. Ignored for a folder.
        prune, moved, max_tokens, overlap_tokens, options: as for ``Store.add_folder``.
        address: the Ray cluster when Ray is not initialised yet: None = ``RAY_ADDRESS`` if set,
            else a new local runtime (``num_cpus`` CPUs, no dashboard, shut down at the end);
            ``"auto"`` = the cluster running on this machine; ``"ray://HOST:10001"`` = a remote
            one. A runtime already initialised is used as it is.
        workers: actors in the pool; each loads the models once.
        gpus_per_worker: GPUs per actor (``device="auto"`` then runs on it).
        cpus_per_worker: CPUs per actor.
        batch_size: files per actor call.
        num_cpus: CPUs of a local runtime started here (None = all).
        config, model, clip, device, dtype: the models, as for ``Store.open``.

    Returns:
        What the run did, as a local run reports it.

    Raises:
        InvalidInputError: ``source`` is neither a folder nor a dataset, or model options come
            with an opened ``Store``.
        ConfigError: a pool setting is out of range; the store records another folder, other
            chunking settings or another model.
        StoreLockedError: another process is writing the store.
        MissingDependencyError: Ray is not installed.
    """
    from sbert_rag.indexing.engine import Store

    ray = _ray()
    ray_options = RayOptions(workers, gpus_per_worker, cpus_per_worker, batch_size)
    _check_resources(batch_size, gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker)
    _pool(ray, workers, "workers")
    dataset, folder = None, None
    if isinstance(source, ray.data.Dataset):
        dataset = source
        folder = Path(root).expanduser().resolve() if root is not None else None
    elif isinstance(source, (str, os.PathLike)) and Path(source).expanduser().is_dir():
        folder = Path(source).expanduser().resolve()
    else:
        raise InvalidInputError(
            f"{str(source)!r} is neither a folder nor a ray.data.Dataset; pass the folder to index, or a "
            f"dataset with 'path' and 'bytes' columns (ray.data.read_binary_files(DIR, include_paths=True))"
        )
    model_options = {"config": config, "model": model, "clip": clip, "device": device, "dtype": dtype}
    if isinstance(store, Store):
        if config is not None or model is not None or clip is not None or device != "auto" or dtype != "auto":
            raise InvalidInputError(
                "model options (config, model, clip, device, dtype) come with a store location, not an opened "
                "Store; open the Store with them, or pass its location"
            )
        opened = store
    else:
        opened = Store.open(store, create=True, **model_options)
    started = _connect(address, num_cpus)
    context = ray.data.DataContext.get_current()
    bars = context.enable_progress_bars
    context.enable_progress_bars = (options or IndexOptions(progress=False)).progress
    try:
        return opened.run_indexer(
            folder, prune=prune, moved=moved, max_tokens=max_tokens, overlap_tokens=overlap_tokens, options=options,
            indexer=functools.partial(RayIndexer, ray_options=ray_options, dataset=dataset),
        )
    finally:
        context.enable_progress_bars = bars
        if started:
            ray.shutdown()


__all__ = ["RAY_EXTRA", "EmbedBatch", "IndexFiles", "RayIndexer", "RayOptions", "embed_dataset",
           "index_folder_distributed"]
