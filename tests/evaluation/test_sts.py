"""STS reading and Spearman against hand-computed values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sbert_rag.errors import InvalidInputError
from sbert_rag.evaluation.sts import evaluate_sts, rankdata, read_sts, spearman


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
    f.write_text("g\tx\ty\t0\tfive\ta\tb\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 1: score 'five' is not a number"):
        read_sts(f)


def test_evaluate_sts_with_fake_encoder(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("g\tx\ty\t0\t5\ta\ta\ng\tx\ty\t1\t0\ta\tb\ng\tx\ty\t2\t2\ta\tc\n", encoding="utf-8")
    vecs = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [1.0, 1.0]}
    result = evaluate_sts(read_sts(f), lambda texts: np.array([vecs[t] for t in texts], dtype=np.float32))
    assert result == {"spearman_cosine": 100.0, "pairs": 3}
