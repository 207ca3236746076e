"""Quickstart: embed a few passages and queries with the packaged default model, offline.

Run: python examples/quickstart.py
Shows asymmetric encoding (queries vs passages), ranking by cosine, and the overflow report
for a passage longer than the model reads (256 tokens for all-MiniLM-L6-v2).
"""

from __future__ import annotations

import warnings

from sbert_rag import TextEncoder

PASSAGES = [
    "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar.",
    "Paris is the capital and largest city of France.",
    "Honey bees perform a waggle dance to tell others where flowers are.",
    "Rayleigh scattering of sunlight by air molecules makes the sky look blue.",
]
QUERIES = ["how do bees tell each other where food is?", "why is the sky blue?"]


def main() -> None:
    encoder = TextEncoder.from_pretrained()  # packaged all-MiniLM-L6-v2, no download
    print(encoder)
    passages = encoder.encode_passages(PASSAGES)
    queries = encoder.encode_queries(QUERIES)
    scores = queries @ passages.T  # unit vectors: dot product = cosine
    for q, row in zip(QUERIES, scores):
        best = int(row.argmax())
        print(f"{q!r}\n  -> {PASSAGES[best]!r} (cosine {row[best]:.3f})")

    long_passage = " ".join(PASSAGES * 20)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = encoder.encode_with_report([long_passage])
    report = result.report
    print(f"long passage: {report.token_counts[0]} tokens, limit {report.limit}, truncated {list(report.truncated)}")
    windows = encoder.encode_with_report([long_passage], overflow="windows").report
    print(f"with overflow='windows': {windows.windowed[0]} windows, nothing lost")


if __name__ == "__main__":
    main()
