"""benchmarks/llamaindex_index.py runs end to end on 5 SciFact documents (../shared/data) and prints its keys."""

from __future__ import annotations

import json

import pytest

pytest.importorskip(
    "llama_index.embeddings.huggingface",
    reason="llama-index-embeddings-huggingface is not installed (requirements-dev.txt installs it); "
    "the benchmark compares our adapter with HuggingFaceEmbedding",
    exc_type=ImportError,
)


def test_llamaindex_benchmark_json_keys(run_script) -> None:
    result = json.loads(run_script("benchmarks/llamaindex_index.py", "--docs", "5", "--json", "--device", "cpu"))
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
