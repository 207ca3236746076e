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


def test_readme_commands_are_what_ci_runs() -> None:
    """The README's two commands are the two command lines of .ci/run, character for character."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```bash\n")[1:3]
    commands = [block.split("\n```")[0].strip() for block in blocks]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert commands[0].startswith("python -m pip install -r requirements-dev.txt && sbert-rag index examples/corpus")
    assert commands == [line for line in ci_lines if line in commands]
    assert all(c in ci_lines for c in commands)


@pytest.mark.quality
def test_readme_main_job_finds_the_truncation_note(tmp_path: Path) -> None:
    """The README's index + search on examples/corpus (into a temporary store) ranks the right file first."""
    import json
    import shlex

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = readme.split("```bash\n")[1].split("\n```")[0].strip()
    index_cmd, search_cmd = first.split(" && ")[1:3]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    store = ["--store", str(tmp_path / "store")]
    for cmd, extra in ((index_cmd, store), (search_cmd, [*store, "--json"])):
        argv = [sys.executable, "-m", "sbert_rag.cli", *shlex.split(cmd)[1:], *extra]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
        assert out.returncode == 0, out.stderr[-3000:]
    hits = json.loads(out.stdout)
    assert len(hits) == 3 and hits[0]["file"] == "silent-truncation.md"
