"""``sbert-rag eval sts FILE``: Spearman of cosine similarity on an STS file.

Owns the command's flags and output. Reading the file (STS Benchmark layout, a headed CSV/TSV such
as SICK's, or JSONL) belongs to ``sbert_rag.evaluation.sts``; this module only maps ``--columns``
to its ``columns`` argument and adds the flag to the error when the columns cannot be found.
"""

from __future__ import annotations

import argparse
import json

from sbert_rag.commands.common import add_model_arguments, build_encoder
from sbert_rag.errors import InvalidInputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag eval sts``."""
    parser.add_argument(
        "file",
        help="STS Benchmark layout (tab-separated, score in column 5, sentences in 6 and 7), or a CSV, "
             "tab-separated (SICK) or JSONL file whose header names the two sentences and the score",
    )
    parser.add_argument(
        "--columns", metavar="S1,S2,SCORE", type=_columns, default=None,
        help="header names (JSONL: keys) of the first sentence, second sentence and score columns "
             "(default: found among sentence1/sentence_A/text1/s1, sentence2/sentence_B/text2/s2, "
             "score/relatedness_score/similarity/label)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (spearman_cosine x100, pairs)")
    add_model_arguments(parser, default_dtype="float32")


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the result."""
    from sbert_rag.evaluation.sts import ColumnsNotFoundError, evaluate_sts, read_sts

    try:
        pairs = read_sts(args.file, args.columns)
    except ColumnsNotFoundError as err:
        raise InvalidInputError(f"{err} with --columns S1,S2,SCORE") from err
    encoder = build_encoder(args)
    result = evaluate_sts(pairs, encoder.encode)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"spearman_cosine {result['spearman_cosine']:.2f} over {result['pairs']} pairs")
    return 0


def _columns(value: str) -> tuple[str, str, str]:
    names = [n.strip() for n in value.split(",")]
    if len(names) != 3 or not all(names):
        raise argparse.ArgumentTypeError(
            f"expected three comma-separated header names S1,S2,SCORE, e.g. sentence_A,sentence_B,relatedness_score; "
            f"got {value!r}"
        )
    return names[0], names[1], names[2]
