"""benchmarks/ray_ingest.py runs end to end on a few SciFact documents and prints the keys docs/scale.md quotes.

It starts its own ``chroma run`` and Ray runtime (on 127.0.0.1) and stops both; run in a child process,
as a user runs it, after the session's Ray runtime is up (two runtimes side by side are fine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("local_chunks_per_s", "ray1_chunks_per_s", "ray2_chunks_per_s", "ray_overhead", "search_p50_ms",
        "search_p99_ms")


def test_ray_ingest_benchmark_prints_its_figures(child_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ray_ingest.py"), "--docs", "6", "--queries", "3", "--json"],
        capture_output=True, text=True, env=child_env, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["files"] == 6 and result["chunks"] >= 6 and result["same_ids"] is True
    for key in KEYS:
        assert isinstance(result[key], float), key
    assert all(result[key] > 0 for key in KEYS if key != "ray_overhead")
