"""``sbert-rag index DIR``: index a folder's text, Markdown, HTML, PDF (and image) files into a store.

Owns the command's arguments and its summary (text, or ``--json``). The run itself is
``sbert_rag.Store.add_folder`` (idempotent and resumable: re-run after any interruption), or with
``--engine ray`` ``sbert_rag.distributed.index_folder_distributed``, which writes the same
records. Progress goes to stderr, the summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sbert_rag.commands.common import add_store_arguments, open_store
from sbert_rag.errors import InvalidInputError
from sbert_rag.indexing.indexer import IndexOptions, IndexReport


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag index``."""
    parser.add_argument("folder", metavar="DIR", help="folder to index (.txt, .md, .html, .pdf; images with --clip)")
    add_store_arguments(parser)
    parser.add_argument("--clip", default=None, metavar="FOLDER",
                        help="CLIP model folder (written by sbert_rag.image.CLIPEncoder.save) to index images; "
                             "recorded with the store, so later runs need not repeat it")
    parser.add_argument("--prune", action="store_true", help="remove the records of files no longer in DIR")
    parser.add_argument("--moved", action="store_true",
                        help="DIR is the store's recorded folder, moved: accept the new place")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="tokens per chunk (default: the store's, for a new store the model's limit)")
    parser.add_argument("--overlap-tokens", type=int, default=None,
                        help="tokens shared by consecutive chunks (default: the store's, for a new store 32)")
    parser.add_argument("--embed-batch", type=int, default=256,
                        help="chunks gathered across files per embedding call (default: 256)")
    parser.add_argument("--max-file-mb", type=float, default=50.0, help="skip larger files (default: 50)")
    parser.add_argument("--engine", choices=["local", "ray"], default="local",
                        help="local: read, chunk and embed in this process (default); ray: on the actors of a Ray "
                             "cluster (sbert-rag[ray]), the files visible at the same path on every node")
    parser.add_argument("--address", default=None,
                        help="with --engine ray: the cluster (auto, or ray://HOST:10001); default: RAY_ADDRESS if "
                             "set, else a Ray runtime started on this machine for the run")
    parser.add_argument("--workers", type=int, default=None,
                        help="with --engine ray: actors, each with its own copy of the models (default: 1)")
    parser.add_argument("--gpus-per-worker", type=float, default=None,
                        help="with --engine ray: GPUs per actor (default: 0)")
    parser.add_argument("--cpus-per-worker", type=float, default=None,
                        help="with --engine ray: CPUs per actor, the threads its models use (default: 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    """Index the folder and print the summary; errors of sbert_rag propagate to the CLI's handler."""
    started = time.perf_counter()
    root = Path(args.folder).expanduser()
    if not root.is_dir():
        raise InvalidInputError(f"DIR {args.folder!r} is not a folder; pass the folder to index")
    options = IndexOptions(
        prune=args.prune, embed_batch=args.embed_batch, max_file_bytes=int(args.max_file_mb * 1e6),
        progress=not args.quiet, moved=args.moved,
    )
    ray_flags = [flag for flag, value in (("--address", args.address), ("--workers", args.workers),
                                          ("--gpus-per-worker", args.gpus_per_worker),
                                          ("--cpus-per-worker", args.cpus_per_worker)) if value is not None]
    if args.engine == "local" and ray_flags:
        raise InvalidInputError(f"{', '.join(ray_flags)} apply with --engine ray; add it, or leave them out")
    store = open_store(args, create=True, clip=args.clip)
    chunking = {"max_tokens": args.max_tokens, "overlap_tokens": args.overlap_tokens}
    if args.engine == "ray":
        from sbert_rag.distributed import index_folder_distributed

        report = index_folder_distributed(
            root, store, options=options, address=args.address, workers=args.workers or 1,
            gpus_per_worker=args.gpus_per_worker or 0, cpus_per_worker=args.cpus_per_worker or 1, **chunking,
        )
    else:
        report = store.add_folder(root, options=options, **chunking)
    report.seconds = round(time.perf_counter() - started, 2)  # model loading included
    print(json.dumps(report.to_dict()) if args.json else format_report(report))
    return 0


def format_report(report: IndexReport) -> str:
    """The summary for a terminal."""
    lines = [
        f"indexed {report.root} into {report.store} in {report.seconds:.1f} s (model {report.model})",
        (f"files: {report.files} found, {report.written} new or changed, {report.unchanged} unchanged, "
         f"{len(report.skipped)} skipped"),
        f"chunks: {report.chunks_added} added, {report.chunks_removed} removed"
        + (f"; images: {report.images_added} added, {report.images_removed} removed"
           if report.images_added or report.images_removed or report.totals.get("images") else ""),
        (f"store now: {report.totals.get('files', 0)} files, {report.totals.get('chunks', 0)} chunks, "
         f"{report.totals.get('images', 0)} images"),
    ]
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)} file(s):")
        for s in report.skipped:
            kept = f" (kept {s.kept} records of an earlier version)" if s.kept else ""
            lines.append(f"  {s.file}: {s.reason}{kept}")
    if report.pruned_files:
        lines.append(f"pruned {len(report.pruned_files)} file(s) no longer in the folder: {_some(report.pruned_files)}")
    if report.missing_files:
        lines.append(f"{len(report.missing_files)} file(s) in the store are no longer in the folder "
                     f"(--prune removes their records): {_some(report.missing_files)}")
    if report.ignored:
        lines.append("not indexed: " + ", ".join(f"{n} {reason}" for reason, n in report.ignored.items()))
    return "\n".join(lines)


def _some(names: list[str], most: int = 10) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")
