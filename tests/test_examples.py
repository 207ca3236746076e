"""Every example runs offline, as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str, timeout: int = 600) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.quality
def test_quickstart_example() -> None:
    out = _run("quickstart.py")
    assert "how do bees tell each other" in out and "waggle dance" in out
    assert "Rayleigh" in out.split("why is the sky blue?")[1]
    assert "truncated [0]" in out and "nothing lost" in out
