"""The ``sbert-rag`` command: argument parsing and dispatch to sbert_rag.commands modules.

Owns the command tree only; each subcommand lives in its own module exposing
``add_arguments(parser)`` and ``run(args) -> int``. Errors of sbert_rag are printed as one line
(no traceback) with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from sbert_rag._version import __version__
from sbert_rag.errors import SbertRagError

# (command path, module, help)
COMMANDS: list[tuple[tuple[str, ...], str, str]] = [
    (("encode",), "sbert_rag.commands.encode", "embed one text per line into a .npy matrix"),
    (("eval", "sts"), "sbert_rag.commands.eval_sts", "Spearman correlation on an STS Benchmark file"),
    (("eval", "retrieval"), "sbert_rag.commands.eval_retrieval", "nDCG@10, recall@100, MRR@10 on a BEIR-layout set"),
    (("train", "retrieval"), "sbert_rag.commands.train_retrieval", "fine-tune on a BEIR-layout set with mined hard negatives"),
    (("train", "sts"), "sbert_rag.commands.train_sts", "fine-tune on STS Benchmark pairs with CoSENT"),
    (("train", "distill"), "sbert_rag.commands.train_distill", "distil a model into a student made of a subset of its layers"),
    (("bench", "encode"), "sbert_rag.commands.bench_encode", "encode speed against sentence-transformers"),
    (("index",), "sbert_rag.commands.index", "index a folder (text, Markdown, HTML, PDF, images) into a persistent store"),
    (("search",), "sbert_rag.commands.search", "search a store built by 'sbert-rag index' (hybrid, dense or BM25)"),
    (("info",), "sbert_rag.commands.info", "model, settings and counts of a store built by 'sbert-rag index'"),
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(prog="sbert-rag", description="Sentence embeddings for RAG, done right.")
    parser.add_argument("--version", action="version", version=f"sbert-rag {__version__}")
    top = parser.add_subparsers(dest="command", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for path, module_name, help_text in COMMANDS:
        module = importlib.import_module(module_name)
        if len(path) == 1:
            sub = top.add_parser(path[0], help=help_text, description=help_text)
        else:
            if path[0] not in groups:
                group = top.add_parser(path[0], help=f"{path[0]} commands")
                groups[path[0]] = group.add_subparsers(dest=f"{path[0]}_command", required=True)
            sub = groups[path[0]].add_parser(path[1], help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sbert-rag`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args))
    except SbertRagError as err:
        print(f"sbert-rag: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
