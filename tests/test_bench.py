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


def test_encode_throughput_script_gpu_flags_on_cpu(tiny_bert_dir: Path, tmp_path: Path) -> None:
    """The GPU job's script path and flags (benchmarks/gpu_check.sh), run on the CPU on a tiny workload."""
    import os
    import subprocess
    import sys

    model = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", normalize=True, device="cpu").save(tmp_path / "m")
    sts = tmp_path / "sts.csv"
    sts.write_text("".join(f"g\tx\ty\t{i}\t1.0\tthe cat {w}\ta dog {w}\n" for i, w in enumerate(["runs", "sits", "eats"])))
    corpus = tmp_path / "corpus.jsonl.gz"
    with gzip.open(corpus, "wt") as f:  # 3 documents give 6 full windows: 20 passages need shorter ones
        for i in range(3):
            f.write(json.dumps({"_id": str(i), "title": "red house", "text": "the big tree " * (20 + 20 * i)}) + "\n")
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, str(root / "benchmarks" / "encode_throughput.py"), "--model", str(model), "--device", "cpu",
           "--dtype", "float32", "--packed", "off", "--passages", "20", "--short", "5", "--repeats", "2",
           "--max-seconds", "0", "--sts", str(sts), "--corpus", str(corpus), "--json"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["passages"]["items"] == 20 and out["passages"]["distinct"] > 6  # shorter windows were added
    assert out["passages"]["repeats"] == 1  # --max-seconds 0: the first repeat only
    assert isinstance(out["ratio_passages"], float) and 0 < out["ratio_passages"] < 1000
    assert 0.99 < out["min_cosine"] <= 1.0 + 1e-6  # fp32 against sentence-transformers fp32
    assert set(out["passages_per_s"]) == {"st_fp32", "st_bf16_autocast", "sbert_rag"}
    assert out["device_name"] and out["seconds_total"] > 0
