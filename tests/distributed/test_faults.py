"""Ray runs stopped mid-way: an actor killed (Ray restarts it and retries its batch) and the driver
killed (the store keeps whole files); either way a re-run ends with exactly the clean run's records.

The runs are slowed to one file per actor call and one file per write, over many small files,
so the kills land mid-run: each test waits until some, but not all, files are written.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sbert_rag.indexing import IndexOptions, Store

FILES = 40
MODEL_OPTIONS = {"device": "cpu", "dtype": "float32"}


def _without_vectors(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rid: {k: v for k, v in r.items() if k != "embedding"} for rid, r in records.items()}


def _clean(corpus: Path, store: Path, model: Path, records: Any) -> dict[str, dict[str, Any]]:
    report = Store.open(store, create=True, model=str(model), **MODEL_OPTIONS).add_folder(corpus)
    expected = _without_vectors(records(store))
    assert report.files == FILES and len(expected) >= 2 * FILES
    return expected


def _rerun_ends_clean(corpus: Path, store: Path, model: Path, records: Any, expected: dict, at_least: int) -> None:
    from sbert_rag.distributed import index_folder_distributed

    report = index_folder_distributed(corpus, store, model=str(model), workers=2, **MODEL_OPTIONS)
    assert report.unchanged >= at_least and report.totals["chunks"] == len(expected)
    assert _without_vectors(records(store)) == expected  # same ids, texts and metadata: none twice, none lost


def test_an_actor_killed_mid_run(
    ray_runtime, actor_pids, tiny_model: Path, many_files, tmp_path: Path, store_records, monkeypatch
) -> None:
    from sbert_rag import distributed

    corpus = many_files(FILES)
    expected = _clean(corpus, tmp_path / "clean", tiny_model, store_records)
    written: list[str] = []
    real_write = distributed.RayIndexer.write

    def counted(self: Any, embedded: list) -> None:
        real_write(self, embedded)
        written.extend(plan.file for plan, _ in embedded)

    monkeypatch.setattr(distributed.RayIndexer, "write", counted)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["report"] = distributed.index_folder_distributed(
                corpus, tmp_path / "store", model=str(tiny_model), workers=1, batch_size=1,
                options=IndexOptions(embed_batch=1, progress=False), **MODEL_OPTIONS,
            )
        except BaseException as err:  # noqa: BLE001 - reported by the test thread
            outcome["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while len(written) < 4:
        assert thread.is_alive(), f"the run ended before 4 files were written: {outcome}"
        assert time.monotonic() < deadline, "no file written in 120 s"
        time.sleep(0.02)
    pids = actor_pids("IndexFiles")
    assert pids, "no IndexFiles actor process found"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    at_kill = len(written)
    thread.join(timeout=180)
    assert not thread.is_alive()
    assert at_kill < FILES, "the run was over before the kill"
    # Ray restarted the actor (max_restarts=-1) and ran its batch again (max_task_retries=-1)
    assert "error" not in outcome, outcome.get("error")
    report = outcome["report"]
    assert report.written == FILES and sorted(written) == sorted(set(written))  # each file written once
    assert not set(pids) & set(actor_pids("IndexFiles"))
    _rerun_ends_clean(corpus, tmp_path / "store", tiny_model, store_records, expected, FILES)


DRIVER = """
import sys
from sbert_rag.distributed import index_folder_distributed
from sbert_rag.indexing import IndexOptions
corpus, store, address, model = sys.argv[1:5]
index_folder_distributed(corpus, store, address=address, model=model, device="cpu", dtype="float32", batch_size=1,
                         options=IndexOptions(embed_batch=1, progress=True))
"""


def _files_done(log: Path) -> int:
    counts = re.findall(rf"indexing:[^\r\n]*?(\d+)/{FILES} \[", log.read_text(errors="replace"))
    return max((int(c) for c in counts), default=0)


def test_the_driver_killed_mid_run(
    ray_runtime, ray_head: str, child_env, tiny_model: Path, many_files, tmp_path: Path, store_records
) -> None:
    corpus = many_files(FILES)
    expected = _clean(corpus, tmp_path / "clean", tiny_model, store_records)
    store, log = tmp_path / "store", tmp_path / "driver.log"
    argv = [sys.executable, "-c", DRIVER, str(corpus), str(store), ray_head, str(tiny_model)]
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, env=child_env)
    try:
        deadline = time.monotonic() + 150
        while (done := _files_done(log)) < 4:
            assert proc.poll() is None, f"the driver ended before 4 files were written: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no progress in 150 s: {log.read_text()[-3000:]}"
            time.sleep(0.02)
    finally:
        proc.kill()
    assert proc.wait() == -signal.SIGKILL
    partial = _without_vectors(store_records(store))
    assert 0 < len(partial) < len(expected) and set(partial) <= set(expected)
    assert all(partial[i] == expected[i] for i in partial)
    _rerun_ends_clean(corpus, store, tiny_model, store_records, expected, done)
