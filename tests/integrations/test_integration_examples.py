"""The three integration examples run offline, as a user would run them, on the packaged default model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _first_hit(out: str, question: str) -> str:
    return out.split(repr(question))[1].splitlines()[1]


def test_langchain_rag_example() -> None:
    out = _run("langchain_rag.py")
    assert "[bees]" in _first_hit(out, "how do bees tell each other where food is?")
    assert "[sky]" in _first_hit(out, "why is the sky blue?")
    assert "[tides]" in _first_hit(out, "what makes the sea rise and fall?")
    assert "best for 'capital of France': [paris]" in out


def test_llamaindex_rag_example() -> None:
    out = _run("llamaindex_rag.py")
    assert "[bees]" in _first_hit(out, "how do bees tell each other where food is?")
    assert "[sky]" in _first_hit(out, "why is the sky blue?")
    assert "[tides]" in _first_hit(out, "what makes the sea rise and fall?")


def test_chroma_hybrid_example(tmp_path: Path) -> None:
    out = _run("chroma_hybrid.py", str(tmp_path))
    chunks, records = out.split(" chunks from ")[0], out.split("-> ")[1].split(" records")[0]
    assert chunks == records  # adding the same chunks twice stored each once
    hybrid = out.split("'what makes the sea rise and fall?'")[1].splitlines()[3]
    assert "hybrid: tides" in hybrid
    assert "'RFC 5789' -> rfc9110" in out
    assert (tmp_path / "articles-bm25" / "fingerprint.json").exists()
