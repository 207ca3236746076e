"""``sbert-rag eval sts`` on STS-B dev gives the 86.72 that sentence-transformers gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sbert_rag.cli import main

pytestmark = pytest.mark.quality

STS_DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "stsbenchmark" / "sts-dev.csv"


def test_eval_sts_dev_matches_sentence_transformers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "sts", str(STS_DEV), "--json", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {"spearman_cosine": 86.72, "pairs": 1500}
