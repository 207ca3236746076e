"""Tiny training data in the BEIR and STS layouts, built from the tiny BERT's vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DOCS = {
    "d1": ("cat", "the cat sits on the red house"),
    "d2": ("dog", "the dog runs in the green tree"),
    "d3": ("bird", "a bird eats a small fish"),
    "d4": ("car", "the blue car is big"),
    "d5": ("fish", "a fish is in the blue sea of text"),
    "d6": ("tree", "a big green tree by the house"),
    "d7": ("model", "a model is a vector search"),
    "d8": ("sentence", "a long sentence with a short query"),
}
QUERIES = {
    "q1": "cat on house", "q2": "dog runs", "q3": "bird eats fish", "q4": "big blue car",
    "q5": "fish in sea", "q6": "green tree", "q7": "vector search model", "q8": "long sentence",
}
TRAIN = [("q1", "d1"), ("q2", "d2"), ("q3", "d3"), ("q4", "d4"), ("q5", "d5"), ("q6", "d6")]
DEV = [("q7", "d7"), ("q8", "d8")]


@pytest.fixture(scope="session")
def tiny_beir_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BEIR-layout folder: 8 documents, 6 train and 2 dev queries."""
    root = tmp_path_factory.mktemp("tiny_beir")
    with open(root / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc_id, (title, text) in DOCS.items():
            f.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(root / "queries.jsonl", "w", encoding="utf-8") as f:
        for qid, text in QUERIES.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    (root / "qrels").mkdir()
    for split, rows in (("train", TRAIN), ("dev", DEV)):
        lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t1" for q, d in rows]
        (root / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


STS_ROWS = [
    (5.0, "the cat sits", "a cat sits"), (0.5, "the dog runs", "a blue car"), (4.0, "a bird eats", "the bird eats fish"),
    (1.0, "red house", "green tree"), (3.0, "big tree", "a big green tree"), (0.0, "hello world", "a small fish"),
    (4.5, "the car is blue", "a blue car"), (2.0, "a long text", "a short sentence"),
]


@pytest.fixture(scope="session")
def tiny_sts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An STS Benchmark-layout file of 8 scored pairs."""
    path = tmp_path_factory.mktemp("tiny_sts") / "sts.csv"
    lines = [f"g\tf\ty\t{i:04d}\t{s}\t{a}\t{b}" for i, (s, a, b) in enumerate(STS_ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
