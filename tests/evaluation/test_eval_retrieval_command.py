from __future__ import annotations

import argparse
import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest

from sbert_rag.commands import eval_retrieval
from sbert_rag.errors import InvalidInputError
from sbert_rag.types import Encoder, Role, TokenCounter

CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "Cats purr when they are content. A purring cat is often a happy cat."},
    {"_id": "d2", "title": "Dogs", "text": "Dogs bark at strangers. Barking warns the pack."},
    {"_id": "d3", "title": "Fish", "text": "Fish swim in schools. Schools of fish confuse predators."},
    {"_id": "d4", "title": "Birds", "text": "Birds sing at dawn. The dawn chorus marks territory."},
]
QUERIES = [{"_id": "q1", "text": "why do cats purr"}, {"_id": "q2", "text": "dogs barking"},
           {"_id": "q3", "text": "fish schools"}, {"_id": "q4", "text": "zzz qqq"}]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\nq4\td4\t1\n"


class FakeTextEncoder:
    """Hashed bag of words (with a bias, never zero) that is also a word-level token counter."""

    dim = 32
    max_tokens = 10

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in re.finditer(r"\w+|[^\w\s]", text)]

    def count_tokens(self, texts, role: Role = Role.PASSAGE) -> list[int]:
        return [len(self.token_offsets(t)) + 2 for t in texts]

    def _encode(self, texts) -> np.ndarray:
        texts = list(texts)
        too_long = [i for i, n in enumerate(self.count_tokens(texts)) if n > self.max_tokens]
        assert not too_long, f"passages {too_long} exceed the fake model's {self.max_tokens} tokens"
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, 0] = 0.1
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i, 1 + zlib.crc32(word[:4].encode()) % (self.dim - 1)] += 1.0
        return out

    def encode_queries(self, texts) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts) -> np.ndarray:
        return self._encode(texts)


@pytest.fixture()
def set_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "set"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUERIES), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text(QRELS, encoding="utf-8")
    return folder


def _run(argv: list[str], capsys, monkeypatch) -> dict:
    monkeypatch.setattr(eval_retrieval, "build_encoder", lambda args: FakeTextEncoder())
    parser = argparse.ArgumentParser()
    eval_retrieval.add_arguments(parser)
    assert eval_retrieval.run(parser.parse_args(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_fake_is_encoder_and_token_counter() -> None:
    assert isinstance(FakeTextEncoder(), Encoder) and isinstance(FakeTextEncoder(), TokenCounter)


def test_run_bm25_json(set_dir: Path, capsys, monkeypatch) -> None:
    result = _run([str(set_dir), "--mode", "bm25", "--json"], capsys, monkeypatch)
    # q4 shares no term with the corpus: it gets no hits and counts as a miss
    assert result["ndcg@10"] == 75.0 and result["recall@100"] == 75.0 and result["mrr@10"] == 75.0
    assert (result["queries"], result["docs"], result["queries_without_bm25_terms"]) == (4, 4, 1)
    assert result["skipped_documents"] == 0
    assert result["mode"] == "bm25" and result["split"] == "test"


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_run_dense_and_hybrid_chunk_to_fit(set_dir: Path, capsys, monkeypatch, mode: str) -> None:
    result = _run([str(set_dir), "--mode", mode, "--json", "--overlap-tokens", "2"], capsys, monkeypatch)
    assert result["chunks"] > len(CORPUS)  # the fake model reads 10 tokens: documents were split
    assert result["recall@100"] == 100.0  # every document is a candidate
    assert result["ndcg@10"] >= 75.0
    assert set(result) >= {"ndcg@10", "recall@100", "mrr@10", "queries", "docs"}


def test_run_rrf_options_and_text_output(set_dir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(eval_retrieval, "build_encoder", lambda args: FakeTextEncoder())
    parser = argparse.ArgumentParser()
    eval_retrieval.add_arguments(parser)
    args = parser.parse_args([str(set_dir), "--mode", "hybrid", "--fusion", "rrf", "--overlap-tokens", "0",
                              "--aggregation", "sum", "--stemmer", "none"])
    assert eval_retrieval.run(args) == 0
    assert re.match(r"hybrid on test \(4 queries, 4 docs, 0 blank skipped\): nDCG@10 \d+\.\d\d",
                    capsys.readouterr().out)


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_run_skips_blank_documents_and_reports_them(set_dir: Path, capsys, monkeypatch, mode: str) -> None:
    blank = {"_id": "d5", "title": "", "text": "  "}
    (set_dir / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in [*CORPUS[:2], blank, *CORPUS[2:]]),
                                          encoding="utf-8")
    (set_dir / "qrels" / "test.tsv").write_text(QRELS + "q1\td5\t1\n", encoding="utf-8")
    monkeypatch.setattr(eval_retrieval, "build_encoder", lambda args: FakeTextEncoder())
    parser = argparse.ArgumentParser()
    eval_retrieval.add_arguments(parser)
    assert eval_retrieval.run(parser.parse_args([str(set_dir), "--mode", mode, "--overlap-tokens", "2"])) == 0
    captured = capsys.readouterr()
    assert re.match(r"\w+ on test \(4 queries, 4 docs, 1 blank skipped\)", captured.out)
    assert "skipped 1 documents whose title and text are blank" in captured.err
    result = _run([str(set_dir), "--mode", mode, "--json", "--overlap-tokens", "2"], capsys, monkeypatch)
    assert (result["docs"], result["skipped_documents"]) == (4, 1)
    assert result["recall@100"] < 100.0  # q1's judged blank document can never be retrieved


def test_run_bad_split_names_the_fix(set_dir: Path, capsys, monkeypatch) -> None:
    with pytest.raises(InvalidInputError, match="splits found: test. Pass --split"):
        _run([str(set_dir), "--mode", "bm25", "--split", "dev"], capsys, monkeypatch)
