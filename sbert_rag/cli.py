"""The ``sbert-rag`` command: argument parsing and dispatch to sbert_rag.commands modules.

Owns the command tree only; each subcommand lives in its own module exposing
``add_arguments(parser)`` and ``run(args) -> int``. Errors of sbert_rag are printed as one line
(no traceback) with exit code 2. A reader that closes the output early (``sbert-rag search ... |
head``) ends the command quietly with the status of a process killed by SIGPIPE (141).
"""

from __future__ import annotations

import argparse
import importlib
import os
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


# What a shell reports for a process killed by SIGPIPE (128 + 13): ``yes | head -1`` ends so.
BROKEN_PIPE_STATUS = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sbert-rag`` console script.

    Returns:
        The command's exit status: 0 on success, 2 for an error of sbert_rag (printed as one
        line), 141 when the reader of standard output went away before everything was written.
    """
    try:
        try:
            return _dispatch(argv)
        finally:
            # Write what is buffered now, while a closed pipe can still be handled here; at
            # interpreter exit it would print "Exception ignored ... BrokenPipeError".
            sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
        return BROKEN_PIPE_STATUS


def _dispatch(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args))
    except SbertRagError as err:
        print(f"sbert-rag: error: {err}", file=sys.stderr)
        return 2


def _discard_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so the interpreter's last flush of stdout succeeds."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a test harness: nothing to close
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
