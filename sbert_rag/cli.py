"""The ``sbert-rag`` command: argument parsing and dispatch to sbert_rag.commands modules.

Owns the command tree only; each subcommand lives in its own module exposing
``add_arguments(parser)`` and ``run(args) -> int``. Errors of sbert_rag are printed as one line
(no traceback) with exit code 2, and warnings of sbert_rag's own categories as one line
``sbert-rag: warning: ...`` (no source path; an over-long input is described in the command's terms,
not the library's). A reader that closes the output early (``sbert-rag search ... | head``) ends
the command quietly with the status of a process killed by SIGPIPE (141).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import IO, Any

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
    (("serve",), "sbert_rag.commands.serve", "OpenAI-compatible embedding (and search) server with dynamic batching"),
]


FLAGS = {
    "path": "--store", "model": "--model", "clip": "--clip", "moved": "--moved", "prune": "--prune",
    "max_tokens": "--max-tokens", "overlap_tokens": "--overlap-tokens", "max_file_bytes": "--max-file-mb",
    "collection": "--collection", "token": "--token-env", "address": "--address", "workers": "--workers",
    "gpus_per_worker": "--gpus-per-worker", "cpus_per_worker": "--cpus-per-worker", "host": "--host", "port": "--port",
}
"""Library setting names (``SbertRagError.settings``) -> the flags that set them."""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command with its arguments, or, given ``argv``, only the one it names.

    A command's module is imported to add its arguments, and some import much (training, evaluation),
    so a run loads only its own; the list of commands (``--help``) needs no module.
    """
    chosen = None if argv is None else command_path(argv)
    parser = argparse.ArgumentParser(prog="sbert-rag", description="Sentence embeddings for RAG, done right.")
    parser.add_argument("--version", action="version", version=f"sbert-rag {__version__}")
    top = parser.add_subparsers(dest="command", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for path, module_name, help_text in COMMANDS:
        if len(path) == 1:
            sub = top.add_parser(path[0], help=help_text, description=help_text)
        else:
            if path[0] not in groups:
                group = top.add_parser(path[0], help=f"{path[0]} commands")
                groups[path[0]] = group.add_subparsers(dest=f"{path[0]}_command", required=True)
            sub = groups[path[0]].add_parser(path[1], help=help_text, description=help_text)
        if argv is None or path == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(_run=module.run)
    return parser


def command_path(argv: Sequence[str]) -> tuple[str, ...] | None:
    """The command ``argv`` names (``("search",)``, ``("eval", "sts")``), or None when it names none."""
    words = list(argv)
    while words and words[0].startswith("-"):  # the top level's own options take no values
        words.pop(0)
    paths = {path for path, _, _ in COMMANDS}
    for size in (1, 2):
        if tuple(words[:size]) in paths:
            return tuple(words[:size])
    return None


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
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    with warnings.catch_warnings():  # restores the caller's showwarning (in-process runs, tests)
        warnings.showwarning = _warning_printer(warnings.showwarning)
        try:
            return int(args._run(args))
        except SbertRagError as err:
            flags = [FLAGS[name] for name in err.settings if name in FLAGS]
            hint = f" (options: {', '.join(flags)})" if flags else ""
            print(f"sbert-rag: error: {err}{hint}", file=sys.stderr)
            return 2


def _warning_printer(fallback: Any) -> Any:
    """A ``warnings.showwarning`` printing sbert_rag's warnings as one line; others go to ``fallback``."""

    def show(
        message: Warning | str, category: type[Warning], filename: str, lineno: int,
        file: IO[str] | None = None, line: str | None = None,
    ) -> None:
        if not category.__module__.startswith("sbert_rag."):
            fallback(message, category, filename, lineno, file, line)
            return
        print(f"sbert-rag: warning: {warning_text(message)}", file=file or sys.stderr)

    return show


def warning_text(message: Warning | str) -> str:
    """The CLI's words for a warning of sbert_rag: the facts, without the library's keywords.

    A truncation warning names the input that was cut (``the query``, ``passage 3 of 10``), its token
    count, the model's limit and that the rest was ignored; one raised with a message only keeps its
    first sentence (the facts; the advice after it names library arguments). Other warnings are
    their message on one line.
    """
    from sbert_rag.encoding.tokenize import TruncationWarning

    text = " ".join(str(message).split())
    if not isinstance(message, TruncationWarning):
        return text
    counts = message.token_counts
    if counts:
        what, limit, n_inputs = message.what, message.limit, message.n_inputs
        rest = f"only the first {limit} tokens were read and the rest was ignored"
        if len(counts) == 1 and n_inputs == 1:
            ((_, tokens),) = counts.items()
            return f"the {what} is {tokens} tokens long, but the model reads at most {limit}: {rest}"
        shown = [f"{what} {i + 1} ({n} tokens)" for i, n in sorted(counts.items())]
        listed = ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
        return (
            f"{len(counts)} of {n_inputs} {what}s are longer than the {limit} tokens the model reads: "
            f"{listed}; of each, {rest}"
        )
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


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
