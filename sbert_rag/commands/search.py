"""``sbert-rag search "QUERY"``: ranked chunks (and images) from a store, for a terminal or ``--json``.

Owns the command's arguments and output: rank, score, file, ``[start:end]`` character span (and
PDF page) with a one-line snippet; images show their path. Takes no lock, so it runs while an
index run writes the store. The search itself is ``sbert_rag.Store.search``.
"""

from __future__ import annotations

import argparse
import json

from sbert_rag.commands.common import add_store_arguments, open_store
from sbert_rag.indexing.engine import MODES, SearchHit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag search``."""
    parser.add_argument("query", metavar="QUERY", help="what to look for")
    add_store_arguments(parser)
    parser.add_argument("--k", type=int, default=10, help="results to show (default: 10)")
    parser.add_argument("--mode", default="hybrid", choices=MODES,
                        help="hybrid (dense and BM25 fused), dense or bm25 (default: hybrid)")
    parser.add_argument("--json", action="store_true", help="print a JSON list of hits")


def run(args: argparse.Namespace) -> int:
    """Search and print; errors of sbert_rag propagate to the CLI's handler."""
    store = open_store(args)
    hits = store.search(args.query, args.k, args.mode)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False))
    elif not hits:
        print(f"no results for {args.query!r} in {store.path}")
    else:
        print("\n".join(format_hit(h) for h in hits))
    return 0


def format_hit(hit: SearchHit) -> str:
    """Two lines for a terminal: rank, score, file and span; then the snippet (images: one line)."""
    head = f"{hit.rank:>2}. {hit.score:.4f}  {hit.file}"
    if hit.kind == "image":
        return f"{head}  (image)"
    page = f" p.{hit.page}" if hit.page is not None else ""
    return f"{head} [{hit.start}:{hit.end}]{page}\n    {hit.snippet}"
