"""The sbert-rag command on a tiny model: encode, eval sts, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sbert_rag import TextEncoder
from sbert_rag.cli import main


@pytest.fixture(scope="module")
def tiny_st_dir(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    enc = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", normalize=True, query_prompt="query: ", device="cpu", dtype="float32")
    return enc.save(tmp_path_factory.mktemp("tiny_st") / "model")


def test_encode_writes_npy_matching_the_api(tiny_st_dir: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in.txt"
    src.write_text("the cat sits\na dog runs\nhello world\n", encoding="utf-8")
    out = tmp_path / "out.npy"
    assert main(["encode", "--model", str(tiny_st_dir), "--input", str(src), "--output", str(out), "--query", "--dtype", "float32"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["texts"] == 3 and summary["dim"] == 32 and summary["truncated"] == []
    saved = np.load(out)
    assert saved.dtype == np.float32 and saved.shape == (3, 32)
    enc = TextEncoder.from_pretrained(tiny_st_dir, device="cpu", dtype="float32")
    np.testing.assert_allclose(saved, enc.encode_queries(["the cat sits", "a dog runs", "hello world"]), atol=1e-6)


def test_encode_refuses_blank_lines(tiny_st_dir: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in.txt"
    src.write_text("the cat\n\nthe dog\n", encoding="utf-8")
    code = main(["encode", "--model", str(tiny_st_dir), "--input", str(src), "--output", str(tmp_path / "o.npy")])
    assert code == 2
    assert "blank lines (line 2)" in capsys.readouterr().err
    assert not (tmp_path / "o.npy").exists()


def test_eval_sts_small_file(tiny_st_dir: Path, tmp_path: Path, capsys) -> None:
    rows = [
        ("5.0", "the cat sits on the house", "the cat sits on the house"),
        ("0.5", "a red car", "the blue fish eats"),
        ("3.0", "a dog runs", "the dog runs"),
        ("1.0", "hello world", "big green tree"),
    ]
    f = tmp_path / "sts.csv"
    f.write_text("".join(f"g\tx\ty\t{i}\t{s}\t{a}\t{b}\n" for i, (s, a, b) in enumerate(rows)), encoding="utf-8")
    assert main(["eval", "sts", str(f), "--model", str(tiny_st_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pairs"] == 4 and -100.0 <= result["spearman_cosine"] <= 100.0


def test_eval_sts_bad_file_is_one_line_error(tmp_path: Path, capsys) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("only\tthree\tcolumns\n", encoding="utf-8")
    assert main(["eval", "sts", str(f), "--json"]) == 2
    err = capsys.readouterr().err
    # neither STS-B's layout nor a header naming the columns: one line naming the file and the fix
    assert "bad.csv" in err and "--columns S1,S2,SCORE" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_model_folder_is_one_line_error(tmp_path: Path, capsys) -> None:
    src = tmp_path / "in.txt"
    src.write_text("hello\n", encoding="utf-8")
    code = main(["encode", "--model", str(tmp_path / "nowhere"), "--input", str(src), "--output", str(tmp_path / "o.npy")])
    assert code == 2
    assert "nowhere" in capsys.readouterr().err
