"""examples/clip_synthetic.py --quick runs end to end and reports recall in JSON (the CI version)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "clip_synthetic.py"


@pytest.mark.slow
def test_clip_synthetic_quick_reports_recall_above_chance() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--quick", "--json"],
        capture_output=True, text=True, timeout=600, check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"recall@1", "recall@5", "seconds"} <= set(result)
    assert result["quick"] is True and result["gallery"] == 560 and result["queries"] == 112
    assert 0.0 <= result["recall@1"] <= result["recall@5"] <= 1.0
    # chance is 1/560 at rank 1 and 5/560 at rank 5; 3 short epochs already learn colours and sizes
    assert result["recall@5"] > 0.1
    # the same gallery through LlamaIndex's MultiModalVectorStoreIndex ranks the same way (ties aside)
    assert abs(result["llamaindex_recall@1"] - result["recall@1"]) <= 0.02
    assert abs(result["llamaindex_recall@5"] - result["recall@5"]) <= 0.02
