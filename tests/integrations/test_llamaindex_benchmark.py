"""benchmarks/llamaindex_index.py runs end to end on 5 SciFact documents (../shared/data) and prints its keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "llama_index.embeddings.huggingface",
    reason="llama-index-embeddings-huggingface is not installed (requirements-dev.txt installs it); "
    "the benchmark compares our adapter with HuggingFaceEmbedding",
    exc_type=ImportError,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "llamaindex_index.py"


def test_llamaindex_benchmark_json_keys() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--docs", "5", "--json", "--device", "cpu"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["docs"] == 5 and result["nodes"] >= 5
    assert result["device"] == "cpu"
    assert result["nodes_over_limit"] == 0 and result["max_node_tokens"] <= 256
    for side in ("sbert_rag", "huggingface"):
        for key in ("seconds", "docs_per_s", "nodes_per_s", "load_seconds"):
            assert isinstance(result[side][key], float) and result[side][key] > 0, (side, key)
    assert result["time_ratio_hf_over_ours"] == pytest.approx(
        result["huggingface"]["seconds"] / result["sbert_rag"]["seconds"], rel=0.01
    )
    assert result["min_cosine"] > 0.99  # same model, same node texts on both sides
