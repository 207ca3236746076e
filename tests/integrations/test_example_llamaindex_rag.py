"""examples/llamaindex_rag.py runs offline, as a user would run it, and cites silent-truncation.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_llamaindex_store_example_cites_the_right_file() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "llamaindex_rag.py")],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "indexed 7 files into" in out.stdout
    retriever, engine = out.stdout.split("retriever sources for ")[1].split("query engine sources for ")
    for section in (retriever, engine):
        sources = section.splitlines()[1:4]
        assert len(sources) == 3 and "silent-truncation.md" in sources[0], section
    assert "MockLLM answer" in out.stdout
