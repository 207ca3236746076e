"""STS reading (STS-B, headed CSV/TSV such as SICK, JSONL), Spearman against hand-computed values, the command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from sbert_rag.commands import eval_sts
from sbert_rag.errors import InvalidInputError
from sbert_rag.evaluation.sts import ColumnsNotFoundError, evaluate_sts, rankdata, read_sts, spearman

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PAIRS = [("a cat sits", "a cat is sitting", 4.5), ('he said "hi", twice', "a dog runs", 0.5), ("x", "y", 2.0)]


def test_rankdata_averages_ties() -> None:
    np.testing.assert_allclose(rankdata([10, 20, 20, 5]), [2.0, 3.5, 3.5, 1.0])


def test_spearman_hand_values() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks x = 1,2,3 ; y = 1,3,2 -> 1 - 6*2/(3*8) = 0.5
    assert spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)


def test_read_sts_columns_and_quotes(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text('g\tx\ty\t0\t4.5\tsaid "hi" there\tb\n', encoding="utf-8")
    pairs = read_sts(f)
    assert pairs.first == ['said "hi" there'] and pairs.second == ["b"] and pairs.scores.tolist() == [4.5]


def test_read_sts_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_sts(tmp_path / "none.csv")
    f = tmp_path / "s.csv"
    f.write_text("g\tx\ty\t0\t5\ta\tb\ng\tx\ty\t0\tfive\ta\tb\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 2: score 'five' is not a number"):
        read_sts(f)
    f.write_text("g\tx\ty\t0\t5\ta\tb\ng\tx\ty\t0\t5\ta\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 2: expected at least 7 tab-separated columns"):
        read_sts(f)
    # a first line with no number in field 5 is neither STS-B data nor a header we know
    f.write_text("g\tx\ty\t0\tfive\ta\tb\n", encoding="utf-8")
    with pytest.raises(ColumnsNotFoundError, match=r"no first sentence, second sentence or score column"):
        read_sts(f)


def _write(path: Path, fmt: str, names: tuple[str, str, str], pairs=PAIRS, extra: str = "pair_ID") -> Path:
    """``pairs`` under header ``extra`` + ``names`` as CSV, TSV or JSONL."""
    if fmt == "jsonl":
        rows = [{extra: i, names[0]: a, names[1]: b, names[2]: score} for i, (a, b, score) in enumerate(pairs)]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "tsv":
        lines = ["\t".join((extra, *names))] + [f"{i}\t{a}\t{b}\t{score}" for i, (a, b, score) in enumerate(pairs)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        def quote(t: str) -> str:
            return '"' + t.replace('"', '""') + '"' if any(c in t for c in ',"') else t
        lines = [",".join((extra, *names))] + [f"{i},{quote(a)},{quote(b)},{score}" for i, (a, b, score) in enumerate(pairs)]
        path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
@pytest.mark.parametrize("names", [("sentence1", "sentence2", "score"), ("sentence_A", "sentence_B", "relatedness_score"),
                                   ("TEXT1", "Text2", "similarity"), ("s1", "s2", "label")])
def test_read_sts_finds_columns_by_header_name(tmp_path: Path, fmt: str, names: tuple[str, str, str]) -> None:
    pairs = read_sts(_write(tmp_path / f"pairs.{fmt}", fmt, names))
    assert pairs.first == [a for a, _, _ in PAIRS] and pairs.second == [b for _, b, _ in PAIRS]
    assert pairs.scores.tolist() == [4.5, 0.5, 2.0] and pairs.scores.dtype == np.float64


def test_read_sts_header_order_and_preferred_score(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("label,score,sentence2,Sentence1\nentailment,1.5,b,a\nneutral,3,d,c\n", encoding="utf-8")
    pairs = read_sts(f)  # "score" is preferred to "label"
    assert (pairs.first, pairs.second, pairs.scores.tolist()) == (["a", "c"], ["b", "d"], [1.5, 3.0])
    with pytest.raises(InvalidInputError, match=r"line 2: score 'entailment' is not a number"):
        read_sts(f, columns=("sentence1", "sentence2", "label"))


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_read_sts_explicit_columns(tmp_path: Path, fmt: str) -> None:
    f = _write(tmp_path / f"p.{fmt}", fmt, ("premise", "hypothesis", "gold"))
    pairs = read_sts(f, columns=("PREMISE", "hypothesis", "gold"))
    assert pairs.first[1] == 'he said "hi", twice' and pairs.scores.tolist() == [4.5, 0.5, 2.0]
    with pytest.raises(ColumnsNotFoundError, match=r"no first sentence, second sentence or score column in its header"):
        read_sts(f)
    with pytest.raises(ColumnsNotFoundError, match=r"no column named 'gold_score' in its header \[.*'gold'\]"):
        read_sts(f, columns=("premise", "hypothesis", "gold_score"))
    with pytest.raises(InvalidInputError, match="columns must be three header names"):
        read_sts(f, columns=("premise", "hypothesis"))


def test_read_sts_sick_layout(tmp_path: Path) -> None:
    f = tmp_path / "SICK_trial.txt"
    f.write_text(
        "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n"
        '4\tThe boys play\tNo boy plays "outside\t3.6\tCONTRADICTION\n'
        "24\tA person rides\tA person is riding\t4.9\tENTAILMENT\n",
        encoding="utf-8",
    )
    pairs = read_sts(f)
    assert pairs.first == ["The boys play", "A person rides"]
    assert pairs.second == ['No boy plays "outside', "A person is riding"] and pairs.scores.tolist() == [3.6, 4.9]


@pytest.mark.parametrize(("relative", "count", "first_pair"), [
    ("sick/SICK_trial.txt", 500, ("The young boys are playing outdoors and the man is smiling nearby",
                                  "There is no boy playing outdoors and there is no man smiling", 3.6)),
    ("stsbenchmark/sts-dev.csv", 1500, ("a man with a hard hat is dancing .", "a man wearing a hard hat is dancing .",
                                        5.0)),
])
def test_read_sts_real_files(relative: str, count: int, first_pair: tuple[str, str, float]) -> None:
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"shared data not found at {path}")
    pairs = read_sts(path)
    assert len(pairs.first) == len(pairs.second) == len(pairs.scores) == count
    assert (pairs.first[0], pairs.second[0], float(pairs.scores[0])) == first_pair


def test_read_sts_header_file_errors(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("id,question,answer,grade\n1,a,b,3\n", encoding="utf-8")
    with pytest.raises(ColumnsNotFoundError) as info:
        read_sts(f)
    message = str(info.value)
    assert "p.csv" in message and "['id', 'question', 'answer', 'grade']" in message
    assert "rename the header's columns" in message and "--columns" not in message  # the flag is the CLI's word
    assert isinstance(info.value, InvalidInputError) and info.value.header == ["id", "question", "answer", "grade"]
    f.write_text("sentence1,sentence2,score\na,b,1\nc,d\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 3: expected at least 3 fields as the header on line 1"):
        read_sts(f)
    f.write_text("sentence1,sentence2,score\na,b,high\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 2: score 'high' is not a number"):
        read_sts(f)
    f.write_text("sentence1,sentence2,score\n\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="holds no pairs"):
        read_sts(f)
    f.write_text(" \n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="is empty"):
        read_sts(f)


def test_read_sts_stsb_file_with_explicit_columns_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "sts-dev.csv"
    f.write_text("g\tx\ty\t0\t4.5\ta\tb\n", encoding="utf-8")
    with pytest.raises(ColumnsNotFoundError, match=r"no column named 'sentence1', 'sentence2' or 'score'"):
        read_sts(f, columns=("sentence1", "sentence2", "score"))


def test_read_sts_jsonl_errors(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    cases = [
        ('{"sentence1": "a", "sentence2": "b", "score": 1}\nnot json\n', "line 2 is not valid JSON"),
        ('{"sentence1": "a", "sentence2": "b", "score": 1}\n[1]\n', "line 2 is not a JSON object"),
        ('{"sentence1": "a", "sentence2": "b", "score": 1}\n\n{"sentence1": "c", "score": 2}\n',
         "line 3 has no 'sentence2' key"),
        ('{"sentence1": "a", "sentence2": 7, "score": 1}\n', "line 1: 'sentence2' is 7, not a string"),
        ('{"sentence1": "a", "sentence2": "b", "score": true}\n', "line 1: score True is not a number"),
        ('{"sentence1": "a", "sentence2": "b", "score": null}\n', "line 1: score None is not a number"),
        ('{"text": "a", "other": "b"}\n', r"no first sentence, second sentence or score column in its header"),
    ]
    for text, message in cases:
        f.write_text(text, encoding="utf-8")
        with pytest.raises(InvalidInputError, match=message):
            read_sts(f)
    f.write_text('{"sentence1": "a", "sentence2": "b", "score": "2.5"}\n', encoding="utf-8")
    assert read_sts(f).scores.tolist() == [2.5]  # a numeric string is a score, as in CSV


def test_evaluate_sts_with_fake_encoder(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("g\tx\ty\t0\t5\ta\ta\ng\tx\ty\t1\t0\ta\tb\ng\tx\ty\t2\t2\ta\tc\n", encoding="utf-8")
    vecs = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [1.0, 1.0]}
    result = evaluate_sts(read_sts(f), lambda texts: np.array([vecs[t] for t in texts], dtype=np.float32))
    assert result == {"spearman_cosine": 100.0, "pairs": 3}


class _FakeEncoder:
    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [1.0, 1.0]}
        return np.array([vectors[t] for t in texts], dtype=np.float32)


def _run_command(argv: list[str], monkeypatch) -> int:
    monkeypatch.setattr(eval_sts, "build_encoder", lambda args: _FakeEncoder())
    parser = argparse.ArgumentParser()
    eval_sts.add_arguments(parser)
    return eval_sts.run(parser.parse_args(argv))


def test_eval_sts_command_columns_option(tmp_path: Path, capsys, monkeypatch) -> None:
    f = tmp_path / "p.tsv"
    f.write_text("first\tsecond\tgold\na\ta\t5\na\tb\t0\na\tc\t2\n", encoding="utf-8")
    assert _run_command([str(f), "--columns", "first, second,gold", "--json"], monkeypatch) == 0
    assert json.loads(capsys.readouterr().out) == {"spearman_cosine": 100.0, "pairs": 3}
    with pytest.raises(InvalidInputError, match=r"in its header \['first', 'second', 'gold'\].*--columns S1,S2,SCORE"):
        _run_command([str(f)], monkeypatch)
    with pytest.raises(SystemExit):
        _run_command([str(f), "--columns", "first,second"], monkeypatch)
    assert "expected three comma-separated header names" in capsys.readouterr().err
