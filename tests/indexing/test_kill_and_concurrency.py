"""Real processes: runs killed with SIGKILL and re-run end exactly like a clean run; searches and a
second writer while an index run is going.

The killed runs use the tiny test model (embedding is nearly free, so a run is mostly its
per-file writes and can be killed between any two); the concurrency check uses the packaged
model, whose slower embedding keeps the writer busy while the searches run.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest


KILL_FILES = 40


def test_killed_runs_resume_to_exactly_a_clean_run(
    cli, index_runs, generated_corpus, tiny_models, tmp_path: Path, store_records
) -> None:
    corpus = generated_corpus(tmp_path / "notes", KILL_FILES)
    options = ("--model", str(tiny_models[0]), "--embed-batch", "2", "--dtype", "float32")
    clean, resumed, log = tmp_path / "clean", tmp_path / "resumed", tmp_path / "run.log"
    code, out, err = cli("index", str(corpus), "--store", str(clean), "--json", "--quiet", *options)
    assert code == 0, err
    expected = store_records(clean)
    assert json.loads(out)["totals"] == {"files": KILL_FILES, "chunks": len(expected), "images": 0}
    assert len(expected) > 2 * KILL_FILES

    seen = []
    for done in (8, 24):  # two kill points: the second run resumes the first and dies later
        proc = index_runs.start(corpus, resumed, log, *options)
        seen.append(index_runs.wait_for(proc, log, KILL_FILES, done))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        partial = store_records(resumed)
        assert 0 < len(partial) < len(expected) and set(partial) <= set(expected)
        assert all(partial[i] == expected[i] for i in partial)
    assert seen[1] > seen[0]

    code, out, err = cli("index", str(corpus), "--store", str(resumed), "--json", "--quiet", *options)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["unchanged"] >= seen[0] and summary["totals"]["chunks"] == len(expected)
    assert store_records(resumed) == expected  # same ids, texts and metadata: none twice, none lost
    code, out, _ = cli("info", "--store", str(resumed), "--json")
    assert json.loads(out)["bm25_sidecar"] == "current"


def test_searches_and_a_second_writer_during_an_index_run(
    cli, child, index_runs, generated_corpus, tmp_path: Path
) -> None:
    files = 12  # the packaged model embeds them slowly enough to search in between
    corpus = generated_corpus(tmp_path / "notes", files)
    store, log = tmp_path / "store", tmp_path / "run.log"
    writer = index_runs.start(corpus, store, log, "--embed-batch", "2", "--dtype", "float32")
    try:
        index_runs.wait_for(writer, log, files, 2)
        argv, env = child("index", str(corpus), "--store", str(store))
        second = subprocess.run(argv, check=False, capture_output=True, text=True, env=env, timeout=120)
        assert second.returncode == 2 and "being written by another process" in second.stderr
        assert f"pid {writer.pid}" in second.stderr
        for mode in ("hybrid", "bm25"):
            code, out, err = cli("search", "the red car runs", "--store", str(store), "--json", "--mode", mode,
                                 "--dtype", "float32")
            assert code == 0, err
            assert all(h["file"].startswith("note-") for h in json.loads(out))
        assert writer.poll() is None, "the index run ended before the searches: make the corpus larger"
    finally:
        assert writer.wait(timeout=300) == 0, log.read_text()[-2000:]
    code, out, _ = cli("info", "--store", str(store), "--json")
    assert json.loads(out)["files"] == files


class _Crash(Exception):
    """Stands for the process dying at a chosen step."""


def test_runs_interrupted_between_add_and_delete_converge(
    cli, generated_corpus, tiny_models, tmp_path: Path, store_records, monkeypatch
) -> None:
    from sbert_rag.indexing.store import IndexStore

    corpus = generated_corpus(tmp_path / "notes", 6)
    options = ("--model", str(tiny_models[0]), "--dtype", "float32", "--quiet", "--json")
    store = tmp_path / "store"
    assert cli("index", str(corpus), "--store", str(store), *options)[0] == 0
    # two changed files: one only grows at its end (its first chunks keep their ids and get new
    # metadata), one changes near its start (every chunk new, the old ones stale)
    grown, edited = corpus / "note-01.txt", corpus / "note-04.txt"
    grown.write_text(grown.read_text(encoding="utf-8") + "\nA red bird sits on the car.\n", encoding="utf-8")
    edited.write_text(edited.read_text(encoding="utf-8").replace("the", "a big", 3), encoding="utf-8")
    clean = tmp_path / "clean"
    assert cli("index", str(corpus), "--store", str(clean), *options)[0] == 0

    from chromadb.api.models.Collection import Collection

    def crash(*_args, **_kwargs):
        raise _Crash

    # die after adding the new chunks: before refreshing kept chunks, then before deleting stale ones
    for owner, step in ((Collection, "update"), (IndexStore, "delete")):
        with monkeypatch.context() as patch:
            patch.setattr(owner, step, crash)
            with pytest.raises(_Crash):
                cli("index", str(corpus), "--store", str(store), *options)
    mixed = store_records(store)
    assert len(mixed) > len(store_records(clean))  # old and new chunks of the changed files side by side

    code, out, _ = cli("index", str(corpus), "--store", str(store), *options)
    assert code == 0 and json.loads(out)["unchanged"] == 4
    assert store_records(store) == store_records(clean)
