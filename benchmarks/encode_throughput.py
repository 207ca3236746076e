"""Encode throughput: sbert_rag vs sentence-transformers in ONE run, same model and texts.

Run from the repository root (the shared data lies in ../shared/data):
    python benchmarks/encode_throughput.py --json
Same as `sbert-rag bench encode --json`. Prints items/s and tokens/s of each contender, the
ratios (sbert_rag / sentence-transformers' default: fp32 on CPU, fp16 on GPU) and min cosine
of sbert_rag against sentence-transformers fp32.
"""

from __future__ import annotations

import sys

from sbert_rag.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "encode", *sys.argv[1:]]))
