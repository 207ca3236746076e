"""The sbert-rag command when its surroundings misbehave: a reader that closes the pipe early."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sbert_rag import TextEncoder
from sbert_rag.cli import BROKEN_PIPE_STATUS, main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_store(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of the example corpus, indexed in-process with the tiny BERT (64 tokens, dim 32)."""
    folder = tmp_path_factory.mktemp("robust")
    model = TextEncoder.from_pretrained(
        tiny_bert_dir, pooling="mean", normalize=True, device="cpu", dtype="float32"
    ).save(folder / "model")
    corpus = folder / "corpus"
    shutil.copytree(ROOT / "examples" / "corpus", corpus)
    store = folder / "store"
    argv = ["index", str(corpus), "--store", str(store), "--model", str(model), "--dtype", "float32", "--quiet"]
    assert main(argv) == 0
    return store


def _child(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-m", "sbert_rag.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_search_into_a_closed_pipe_exits_quietly(tiny_store: Path, mode: str) -> None:
    proc = _child("search", "sourdough starter hooch", "--store", str(tiny_store), "--json", "--mode", mode)
    proc.stdout.close()  # the reader is gone before the first byte is written, as with `| head -c 0`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == BROKEN_PIPE_STATUS, err
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err


def test_search_into_an_open_pipe_still_prints_everything(tiny_store: Path) -> None:
    proc = _child("search", "sourdough starter hooch", "--store", str(tiny_store), "--json", "--mode", "bm25")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert out.decode().startswith("[{") and out.decode().rstrip().endswith("}]")
