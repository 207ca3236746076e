"""``sbert-rag info``: what a store holds and what it was built with.

Owns the command's arguments and output: the recorded model (name, dimension), CLIP model,
counts of files, chunks and images, the chunking and BM25 settings, the indexed folder, and
whether the BM25 and dense sidecars cover the stored chunks (``Store.info``). Reads only; takes no lock.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sbert_rag.commands.common import add_location_arguments, location_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag info``."""
    add_location_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Print the store's description; errors of sbert_rag propagate to the CLI's handler."""
    from sbert_rag.indexing.engine import Store

    info = Store.open(args.store, **location_options(args)).info()
    print(json.dumps(info) if args.json else format_info(info))
    return 0


def format_info(info: dict[str, Any]) -> str:
    """The description for a terminal."""
    model = info["model_config"]
    clip = info["clip"]
    rows = [
        ("store", f"{info['store']} (format {info['format_version']})"),
        *([("cache", info["cache"])] if "cache" in info else []),
        ("folder", info["root"]),
        ("model", (f"{info['model']} (dim {info['dims']}, {model.get('max_tokens')} tokens, "
                   f"pooling {'+'.join(model.get('pooling') or [])}{', normalized' if model.get('normalize') else ''})")),
        ("clip", f"{clip['path']} (dim {clip['dim']})" if clip else "none (images are not indexed)"),
        ("contents", f"{info['files']} files, {info['chunks']} chunks, {info['images']} images"),
        ("chunking", _settings(info["settings"]["chunking"])),
        ("bm25", f"{_settings(info['settings']['bm25'])}; sidecar {info['bm25_sidecar']}"),
        ("dense", f"exact, sidecar {info['dense_sidecar']}"),
        ("created", info["created"]),
        ("updated", info["updated"] or "never finished"),
    ]
    return "\n".join(f"{name:<9} {value}" for name, value in rows)


def _settings(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {json.dumps(v)}" for k, v in values.items())
