"""Batching guard, loaders, and hard-negative mining (positives excluded, seeded, margin, BM25)."""

from __future__ import annotations

import numpy as np
import pytest

from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.evaluation import load_beir
from sbert_rag.training.data import (
    NoDuplicatesBatchSampler,
    RetrievalExample,
    ShuffledBatchSampler,
    check_no_duplicates,
    load_sts_pairs,
    read_texts,
    retrieval_examples,
)
from sbert_rag.training.mining import MiningConfig, dense_document_scores, mine_hard_negatives


def _examples(n: int = 12) -> list[RetrievalExample]:
    # every third example shares its positive with the one before: false-negative bait
    return [RetrievalExample(f"q{i}", f"p{i - (i % 3 == 2)}", (f"n{i}",)) for i in range(n)]


def test_no_duplicates_sampler_never_repeats_a_passage_and_uses_everything() -> None:
    examples = _examples()
    sampler = NoDuplicatesBatchSampler(examples, batch_size=4, seed=1)
    batches = sampler.batches(0)
    for batch in batches:
        check_no_duplicates(batch)
    assert sorted(e.anchor for b in batches for e in b) == sorted(e.anchor for e in examples)
    assert sampler.batches(0) == batches  # reproducible
    assert sampler.batches(1) != batches  # reshuffled per epoch


def test_check_no_duplicates_names_the_rows() -> None:
    batch = [RetrievalExample("a", "same"), RetrievalExample("b", "other"), RetrievalExample("c", "same")]
    with pytest.raises(InvalidInputError, match="rows 0 and 2"):
        check_no_duplicates(batch)
    check_no_duplicates([RetrievalExample("a", "x"), RetrievalExample("a", "y")])
    with pytest.raises(InvalidInputError):
        check_no_duplicates([RetrievalExample("a", "x"), RetrievalExample("a", "y")], include_anchors=True)


def test_shuffled_sampler_drop_last() -> None:
    assert [len(b) for b in ShuffledBatchSampler(list(range(10)), 4, drop_last=True).batches(0)] == [4, 4]


def test_loaders(tiny_beir_dir, tiny_sts_file, tmp_path) -> None:
    dataset = load_beir(tiny_beir_dir, "train")
    examples = retrieval_examples(dataset, {"q1": ["d2"]})
    assert len(examples) == 6
    assert examples[0].anchor == "cat on house" and examples[0].positive.startswith("cat the cat")
    assert examples[0].negative_ids == ("d2",) and examples[1].negatives == ()
    with pytest.raises(InvalidInputError, match="one of its positives"):
        retrieval_examples(dataset, {"q1": ["d1"]})
    pairs = load_sts_pairs(tiny_sts_file)
    assert len(pairs) == 8 and pairs[0].score == 5.0
    path = tmp_path / "texts.txt"
    path.write_text("one\ntwo\n", encoding="utf-8")
    assert read_texts(path) == ["one", "two"]
    path.write_text("one\n\ntwo\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 2 is blank"):
        read_texts(path)


def _scores(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((3, 40)).astype(np.float32)


DOCS = [f"d{i}" for i in range(40)]


def test_mining_excludes_positives_and_is_reproducible() -> None:
    scores = _scores()
    positives = {"a": ["d0", "d5"], "b": ["d1"], "c": ["d2"]}
    for q, docs in positives.items():  # positives top-ranked, as a good model would place them
        for d in docs:
            scores["abc".index(q), DOCS.index(d)] = 2.0
    cfg = MiningConfig(num_negatives=3, rank_end=20, margin=None, seed=7)
    first = mine_hard_negatives(["a", "b", "c"], ["x", "y", "z"], positives, DOCS, cfg, dense_scores=scores)
    again = mine_hard_negatives(["a", "b", "c"], ["x", "y", "z"], positives, DOCS, cfg, dense_scores=scores)
    assert first == again
    other = mine_hard_negatives(["a", "b", "c"], ["x", "y", "z"], positives, DOCS,
                                MiningConfig(num_negatives=3, rank_end=20, margin=None, seed=8), dense_scores=scores)
    assert other != first
    for q, negs in first.items():
        assert len(negs) == 3 and not set(negs) & set(positives[q])
        top20 = set(np.array(DOCS)[np.argsort(-scores["abc".index(q)])[:20]])
        assert set(negs) <= top20


def test_mining_margin_drops_near_positive_candidates() -> None:
    scores = np.zeros((1, 5), dtype=np.float32)
    scores[0] = [0.9, 0.88, 0.7, 0.6, 0.5]  # d0 positive; d1 within the margin
    cfg = MiningConfig(num_negatives=2, rank_end=5, margin=0.05, sampling="top")
    out = mine_hard_negatives(["q"], ["text"], {"q": ["d0"]}, DOCS[:5], cfg, dense_scores=scores)
    assert out == {"q": ["d2", "d3"]}
    tight = MiningConfig(num_negatives=4, rank_end=5, margin=0.05)
    assert mine_hard_negatives(["q"], ["text"], {"q": ["d0"]}, DOCS[:5], tight, dense_scores=scores) == {}


def test_mining_with_bm25_and_both(tiny_beir_dir) -> None:
    pytest.importorskip("bm25s")
    from sbert_rag.retrieval import BM25Config, BM25Index
    from sbert_rag.training.data import document_text

    dataset = load_beir(tiny_beir_dir, "train")
    ids = list(dataset.corpus)
    bm25 = BM25Index.from_texts(ids, [document_text(d.title, d.text) for d in dataset.corpus.values()],
                                BM25Config(stemmer=None))
    qids = list(dataset.queries)
    positives = {q: list(r) for q, r in dataset.qrels.items()}
    cfg = MiningConfig(num_negatives=1, method="bm25", rank_end=5, margin=None, sampling="top")
    out = mine_hard_negatives(qids, [dataset.queries[q] for q in qids], positives, ids, cfg, bm25=bm25)
    assert out and all(negs[0] not in positives[q] for q, negs in out.items())
    with pytest.raises(ConfigError, match="needs dense_scores"):
        mine_hard_negatives(qids, list(dataset.queries.values()), positives, ids, MiningConfig(method="both"), bm25=bm25)


def test_dense_document_scores_take_the_best_chunk() -> None:
    q = np.array([[1.0, 0.0]], dtype=np.float32)
    p = np.array([[0.0, 1.0], [1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
    got = dense_document_scores(q, p, [0, 0, 1], 3)
    np.testing.assert_allclose(got, [[1.0, 0.6, -np.inf]])


def test_mining_config_errors() -> None:
    with pytest.raises(ConfigError, match="rank_start < rank_end"):
        MiningConfig(rank_start=5, rank_end=5)
    with pytest.raises(ConfigError, match="method must be one of"):
        MiningConfig(method="sparse")


def test_mining_falls_back_below_the_window_instead_of_dropping_a_query() -> None:
    scores = np.array([[0.9, 0.88, 0.87, 0.6, 0.5]], dtype=np.float32)  # d0 positive, d1 and d2 too close
    cfg = MiningConfig(num_negatives=1, rank_end=3, margin=0.05, sampling="top")
    assert mine_hard_negatives(["q"], ["t"], {"q": ["d0"]}, DOCS[:5], cfg, dense_scores=scores) == {"q": ["d3"]}


def test_training_package_names_resolve_without_loading_torch_at_import() -> None:
    import subprocess
    import sys

    code = ("import sys, sbert_rag.training as t; assert 'torch' not in sys.modules; "
            "[getattr(t, n) for n in t.__all__]; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
