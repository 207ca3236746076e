"""Short end-to-end runs of the three training commands on the tiny BERT (the CI training run)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from sbert_rag import TextEncoder  # noqa: E402
from sbert_rag.commands import train_distill, train_retrieval, train_sts  # noqa: E402


def _run(module, argv: list[str], capsys) -> dict:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    assert module.run(parser.parse_args(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def tiny_st_dir(tiny_bert_dir, tmp_path_factory):
    """The tiny BERT saved as a sentence-transformers folder (mean pooling, normalised)."""
    enc = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", normalize=True, device="cpu", dtype="float32")
    return enc.save(tmp_path_factory.mktemp("tiny_st"))


def test_train_retrieval_mines_trains_evaluates_and_saves(tiny_st_dir, tiny_beir_dir, tmp_path, capsys) -> None:
    out = tmp_path / "model"
    summary = _run(train_retrieval, [
        "--data", str(tiny_beir_dir), "--out", str(out), "--model", str(tiny_st_dir), "--device", "cpu",
        "--hard-negatives", "1", "--mining", "both", "--mining-range", "0", "5", "--mining-margin", "-1",
        "--batch-size", "3", "--eval-split", "dev", "--eval-at-start", "--cache-dir", str(tmp_path / "cache"),
        "--no-progress", "--json", "--lr", "1e-3", "--max-passage-tokens", "32", "--towers", "tied", "--epochs", "1",
    ], capsys)
    # 6 pairs in batches of 3: 2 steps, or 3 when shared mined negatives force a batch apart
    assert summary["train_pairs"] == 6 and summary["steps"] in (2, 3)
    assert [e["step"] for e in summary["evals"]] == [0, summary["steps"]]
    assert {"ndcg@10", "hybrid_ndcg@10"} <= set(summary["evals"][0])
    enc = TextEncoder.from_pretrained(out, device="cpu", dtype="float32")
    assert enc.encode_queries(["cat"]).shape == (1, 32)
    assert (out / "training_report.json").is_file()


def test_train_retrieval_untied_saves_two_towers(tiny_st_dir, tiny_beir_dir, tmp_path, capsys) -> None:
    out = tmp_path / "dual"
    summary = _run(train_retrieval, [
        "--data", str(tiny_beir_dir), "--out", str(out), "--model", str(tiny_st_dir), "--device", "cpu",
        "--hard-negatives", "0", "--towers", "untied", "--loss", "cached-mnrl", "--mini-batch-size", "2", "--batch-size", "3",
        "--no-progress", "--json",
    ], capsys)
    assert summary["tied"] is False
    q = TextEncoder.from_pretrained(out / "query", device="cpu", dtype="float32")
    p = TextEncoder.from_pretrained(out / "passage", device="cpu", dtype="float32")
    assert not np.allclose(q.encode(["the cat sits"]), p.encode(["the cat sits"]))


def test_train_retrieval_default_query_towers_load_everywhere(
    tiny_st_dir, tiny_beir_dir, tiny_sts_file, tmp_path, capsys
) -> None:
    from sbert_rag import DualEncoder, load_encoder
    from sbert_rag.commands import eval_retrieval, eval_sts

    out = tmp_path / "query_tower"
    summary = _run(train_retrieval, [
        "--data", str(tiny_beir_dir), "--out", str(out), "--model", str(tiny_st_dir), "--device", "cpu",
        "--hard-negatives", "0", "--batch-size", "3", "--epochs", "1", "--lr", "1e-3", "--no-progress", "--json",
    ], capsys)
    assert summary["tied"] is False and summary["steps"] >= 1
    start = TextEncoder.from_pretrained(tiny_st_dir, device="cpu", dtype="float32")
    pair = load_encoder(out, device="cpu", dtype="float32")
    assert isinstance(pair, DualEncoder)
    text = ["the cat sits on the mat"]
    # the passage side is the starting model, untouched; the query side has moved
    np.testing.assert_allclose(pair.encode_passages(text), start.encode_passages(text), atol=1e-6)
    assert not np.allclose(pair.encode_queries(text), start.encode_queries(text), atol=1e-4)
    np.testing.assert_allclose(pair.encode(text), pair.encode_passages(text), atol=1e-6)
    # --model of the evaluation commands opens the pair folder
    scores = _run(eval_retrieval, [str(tiny_beir_dir), "--split", "dev", "--model", str(out),
                                   "--device", "cpu", "--mode", "dense", "--json"], capsys)
    assert 0.0 <= scores["ndcg@10"] <= 100.0
    sts = _run(eval_sts, [str(tiny_sts_file), "--model", str(out), "--device", "cpu", "--json"], capsys)
    assert "spearman_cosine" in sts


def test_train_sts_reports_spearman(tiny_st_dir, tiny_sts_file, tmp_path, capsys) -> None:
    summary = _run(train_sts, [
        "--data", str(tiny_sts_file), "--eval", str(tiny_sts_file), "--out", str(tmp_path / "sts"),
        "--model", str(tiny_st_dir), "--device", "cpu", "--batch-size", "4", "--epochs", "2", "--lr", "1e-3",
        "--no-progress", "--json",
    ], capsys)
    assert summary["steps"] == 4 and "spearman_cosine" in summary["best"]
    assert TextEncoder.from_pretrained(tmp_path / "sts", device="cpu").dim == 32


def test_train_distill_builds_a_smaller_student(tiny_st_dir, tiny_sts_file, tmp_path, capsys) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("the cat sits\na dog runs\na bird eats fish\nthe blue car\n", encoding="utf-8")
    out = tmp_path / "student"
    summary = _run(train_distill, [
        "--teacher", str(tiny_st_dir), "--layers", "1", "--data", str(texts), "--out", str(out),
        "--eval-sts", str(tiny_sts_file), "--device", "cpu", "--batch-size", "2", "--speed-dtype", "float32",
        "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--json",
    ], capsys)
    assert summary["student_layers"] == 1 and summary["teacher_layers"] == 2
    assert summary["speedup"] > 0 and "quality_kept" in summary
    student = TextEncoder.from_pretrained(out, device="cpu", dtype="float32")
    assert student.module.transformer.config.num_hidden_layers == 1
    assert any((tmp_path / "cache").iterdir())  # teacher embeddings cached
