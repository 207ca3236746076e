"""``sbert-rag encode``: one text per line in, a float32 .npy matrix out."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sbert_rag.commands.common import add_model_arguments, build_encoder
from sbert_rag.errors import InvalidInputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag encode``."""
    parser.add_argument("--input", required=True, help="UTF-8 text file, one text per line")
    parser.add_argument("--output", required=True, help="where to write the (n, dim) float32 .npy file")
    parser.add_argument("--query", action="store_true", help="encode as queries (query prompt); default passages")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Encode the input file's lines and save them; prints a one-line JSON summary."""
    import numpy as np

    src = Path(args.input)
    if not src.is_file():
        raise InvalidInputError(f"input file {str(src)!r} does not exist")
    lines = src.read_text(encoding="utf-8").splitlines()
    blank = [i + 1 for i, line in enumerate(lines) if not line.strip()]
    if blank:
        raise InvalidInputError(
            f"{str(src)!r} has blank lines (line {', '.join(map(str, blank[:10]))}); one non-empty text per line"
        )
    encoder = build_encoder(args)
    result = encoder.encode_with_report(lines, role="query" if args.query else "passage")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, result.embeddings)
    summary = {
        "texts": len(lines),
        "dim": int(result.embeddings.shape[1]),
        "output": str(out),
        "truncated": list(result.report.truncated),
        "windowed": {str(k): v for k, v in result.report.windowed.items()},
        "max_tokens": result.report.limit,
    }
    print(json.dumps(summary), file=sys.stdout)
    return 0
