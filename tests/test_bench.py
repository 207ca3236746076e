"""`sbert-rag bench encode` runs end to end on a tiny model and prints the documented keys."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from sbert_rag import TextEncoder
from sbert_rag.cli import main


def test_bench_encode_json_keys(tiny_bert_dir: Path, tmp_path: Path, capsys) -> None:
    model = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", normalize=True, device="cpu").save(tmp_path / "m")
    sts = tmp_path / "sts.csv"
    sts.write_text("".join(f"g\tx\ty\t{i}\t1.0\tthe cat {w}\ta dog {w}\n" for i, w in enumerate(["runs", "sits", "eats"])))
    corpus = tmp_path / "corpus.jsonl.gz"
    with gzip.open(corpus, "wt") as f:
        for i in range(3):
            f.write(json.dumps({"_id": str(i), "title": "red house", "text": "the big tree " * (10 + 20 * i)}) + "\n")
    args = ["bench", "encode", "--model", str(model), "--device", "cpu", "--short", "5", "--passages", "4",
            "--repeats", "1", "--sts", str(sts), "--corpus", str(corpus), "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["device"] == "cpu" and out["baseline"] == "st_fp32"
    assert out["short"]["items"] == 5 and out["passages"]["items"] == 4
    for key in ("ratio_short", "ratio_passages", "min_cosine"):
        assert isinstance(out[key], float) and out[key] > 0
    assert out["short"]["sbert_rag"]["tokens_per_s"] > 0
    assert out["sbert_rag_packed"] is True  # auto: the padding-free forward on CPU
    assert out["min_cosine"] > 0.999  # bf16 or fp32 by CPU, packed: still the reference vectors
    assert main([*args, "--packed", "off", "--dtype", "float32"]) == 0
    off = json.loads(capsys.readouterr().out)
    assert off["sbert_rag_packed"] is False and off["sbert_rag_dtype"] == "float32" and off["min_cosine"] > 0.9999


def test_kernel_peaks_script_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "kernel_peaks.py"
    out = subprocess.run([sys.executable, str(script), "--tokens", "64", "--repeats", "1", "--json"], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    for key in ("linear_fp32_gflops", "linear_bf16_gflops", "bf16_over_fp32", "int8_gops", "attn256_eager_fp32_gflops", "attn256_softmax_bf16_ns_per_score"):
        assert report[key] > 0
