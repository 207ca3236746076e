"""``sbert-rag info``: what a store holds and what it was built with.

Owns the command's arguments and output: the recorded model (name, dimension), CLIP model,
counts of files, chunks and images, the chunking and BM25 settings, the indexed folder, and
whether the BM25 sidecar covers the stored chunks. Reads only; takes no lock.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sbert_rag.commands.common import DEFAULT_STORE
from sbert_rag.errors import ConfigError
from sbert_rag.indexing import IndexStore, ids_fingerprint
from sbert_rag.indexing.sidecar import sidecar_fingerprint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag info``."""
    parser.add_argument("--store", default=DEFAULT_STORE, metavar="PATH",
                        help=f"store folder (default: {DEFAULT_STORE} in the current directory)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Print the store's description; errors of sbert_rag propagate to the CLI's handler."""
    info = describe(IndexStore.open(args.store, must_exist=True))
    print(json.dumps(info) if args.json else format_info(info))
    return 0


def describe(store: IndexStore) -> dict[str, Any]:
    """The store's facts, JSON-plain (the ``--json`` output)."""
    manifest = store.manifest
    if manifest is None:
        raise ConfigError(f"no sbert-rag store at {str(store.path)!r}; open it with IndexStore.open(path, must_exist=True)")
    with store.session():  # one consistent view while an index run writes
        ids = store.read("text").ids
        counts = store.counts()
    saved = sidecar_fingerprint(store.path / "bm25")
    sidecar = "none needed" if not ids else "missing" if saved is None else (
        "current" if saved == ids_fingerprint(ids) else "stale (rebuilt in memory by searches until the next index run)"
    )
    return {
        "store": str(store.path),
        "root": manifest.root,
        "format_version": manifest.format_version,
        "model": manifest.model_name,
        "dims": manifest.dim,
        "model_config": manifest.model,
        "clip": manifest.clip,
        **counts,
        "settings": {"chunking": manifest.chunking, "bm25": manifest.bm25},
        "bm25_sidecar": sidecar,
        "created": manifest.created,
        "updated": manifest.updated,
    }


def format_info(info: dict[str, Any]) -> str:
    """The description for a terminal."""
    model = info["model_config"]
    clip = info["clip"]
    rows = [
        ("store", f"{info['store']} (format {info['format_version']})"),
        ("folder", info["root"]),
        ("model", (f"{info['model']} (dim {info['dims']}, {model.get('max_tokens')} tokens, "
                   f"pooling {'+'.join(model.get('pooling') or [])}{', normalized' if model.get('normalize') else ''})")),
        ("clip", f"{clip['path']} (dim {clip['dim']})" if clip else "none (images are not indexed)"),
        ("contents", f"{info['files']} files, {info['chunks']} chunks, {info['images']} images"),
        ("chunking", _settings(info["settings"]["chunking"])),
        ("bm25", f"{_settings(info['settings']['bm25'])}; sidecar {info['bm25_sidecar']}"),
        ("created", info["created"]),
        ("updated", info["updated"] or "never finished"),
    ]
    return "\n".join(f"{name:<9} {value}" for name, value in rows)


def _settings(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {json.dumps(v)}" for k, v in values.items())
