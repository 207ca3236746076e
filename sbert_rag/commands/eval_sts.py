"""``sbert-rag eval sts FILE``: Spearman of cosine similarity on an STS Benchmark file."""

from __future__ import annotations

import argparse
import json

from sbert_rag.commands.common import add_model_arguments, build_encoder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag eval sts``."""
    parser.add_argument("file", help="STS Benchmark layout: tab-separated, score in column 5, sentences in 6 and 7")
    parser.add_argument("--json", action="store_true", help="print JSON (spearman_cosine x100, pairs)")
    add_model_arguments(parser, default_dtype="float32")


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the result."""
    from sbert_rag.evaluation.sts import evaluate_sts, read_sts

    pairs = read_sts(args.file)
    encoder = build_encoder(args)
    result = evaluate_sts(pairs, encoder.encode)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"spearman_cosine {result['spearman_cosine']:.2f} over {result['pairs']} pairs")
    return 0
