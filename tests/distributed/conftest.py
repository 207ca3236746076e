"""Fixtures of the Ray tests: one local Ray runtime for the session, a tiny store model, corpora.

The runtime is started once (Ray takes seconds to start): 2 CPUs, no dashboard, a small object
store, bound to 127.0.0.1 (pytest-socket lets loopback through), usage stats off, its session
files under a short temporary folder; shut down and removed at the end. Its workers import this
checkout (``PYTHONPATH``) and run offline like the tests.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# one token each in the tiny test tokenizer (tests/conftest.py)
WORDS = ("the a is of to in on and with for by at from cat dog bird fish red blue green big small house tree car "
         "runs sits eats query passage hello world text long short sentence model vector search").split()


def ray_env() -> dict[str, str]:
    """Environment of Ray processes started by the tests: offline, no usage stats, this checkout first.

    Token authentication is off: Ray 2.60 turns it on for a ``ray start`` cluster, and a driver
    then needs ``RAY_AUTH_MODE=token`` and the token file (``~/.ray/auth_token``) to join it.
    """
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "disabled", "PYTHONPATH": path}


@pytest.fixture(scope="session")
def _ray_local() -> Iterator[tuple[Any, str]]:
    import ray

    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    saved = dict(os.environ)
    os.environ.update(ray_env())  # the raylet and its workers inherit the environment at init
    try:
        ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=128 * 2**20,
                 _node_ip_address="127.0.0.1", _temp_dir=temp, log_to_driver=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}  # loopback only
        yield ray, temp
    finally:
        ray.shutdown()
        assert not ray.is_initialized()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_runtime(_ray_local: tuple[Any, str]) -> Any:
    """The ``ray`` module with a local runtime initialised (2 CPUs); shut down after the session."""
    return _ray_local[0]


@pytest.fixture(scope="session")
def ray_temp_dir(_ray_local: tuple[Any, str]) -> str:
    """The session folder of that runtime (its raylet's command line names it)."""
    return _ray_local[1]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def processes_under(temp: str, title: str) -> list[int]:
    """Pids of the processes whose command line holds ``title`` and whose own, parent's or
    grandparent's names ``temp`` (the Ray runtime started with that folder): its workers, e.g. the
    actors of one class."""
    def cmdline(pid: int | str) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""

    def parent(pid: int | str) -> str:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            return "0"

    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and title in cmdline(entry.name):
            up = parent(entry.name)
            if any(temp in cmdline(pid) for pid in (entry.name, up, parent(up))):
                found.append(int(entry.name))
    return found


@pytest.fixture()
def ray_head(tmp_path: Path) -> Iterator[str]:
    """A ``ray start --head --block`` cluster of 1 CPU (its own process group); yields its address.

    Stopped by its process group (SIGTERM, then SIGKILL), and any worker left under its session
    folder by pid.
    """
    temp = tempfile.mkdtemp(prefix="rayh", dir="/tmp")
    port = free_port()
    log = (tmp_path / "ray-head.log").open("wb")
    proc = subprocess.Popen(
        ["ray", "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--ray-client-server-port", str(free_port()), "--num-cpus", "1", "--include-dashboard", "false",
         "--disable-usage-stats", "--temp-dir", temp],
        stdout=log, stderr=subprocess.STDOUT, env=ray_env(), start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while b"Ray runtime started" not in (tmp_path / "ray-head.log").read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start did not start: {(tmp_path / 'ray-head.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=3)
        with contextlib.suppress(ProcessLookupError):  # whatever is left in its group
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for pid in processes_under(temp, ""):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_model(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sentence-transformers folder of the tiny BERT (64 tokens, dim 32, mean pooling, normalised)."""
    from sbert_rag import TextEncoder

    encoder = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", normalize=True, device="cpu", dtype="float32")
    return encoder.save(tmp_path_factory.mktemp("tiny_model") / "plain")


def prose(rng: random.Random, words: int) -> str:
    """Seeded pseudo-prose of about ``words`` words in paragraphs of five sentences."""
    sentences: list[str] = []
    while sum(len(s.split()) for s in sentences) < words:
        sentences.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + ".")
    return "\n\n".join(" ".join(sentences[j:j + 5]) for j in range(0, len(sentences), 5))


@pytest.fixture()
def small_corpus(tmp_path: Path) -> Path:
    """A few .md and .txt files (one long enough for many chunks, one in a subfolder), plus a file not read."""
    rng = random.Random(0)
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "long.md").write_text("# The long one\n\n" + prose(rng, 400) + "\n", encoding="utf-8")
    (folder / "short.txt").write_text(prose(rng, 20) + "\n", encoding="utf-8")
    (folder / "sub" / "notes.md").write_text("# Notes\n\n" + prose(rng, 90) + "\n", encoding="utf-8")
    (folder / "sub" / "more.txt").write_text(prose(rng, 60) + "\n", encoding="utf-8")
    (folder / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    return folder


@pytest.fixture()
def many_files(tmp_path: Path) -> Any:
    """``many_files(n)``: a folder of ``n`` small seeded text files (two or three chunks each)."""
    def write(n: int) -> Path:
        rng = random.Random(1)
        folder = tmp_path / f"notes{n}"
        folder.mkdir()
        for i in range(n):
            (folder / f"note-{i:03d}.txt").write_text(f"Note {i}\n\n{prose(rng, 60)}\n", encoding="utf-8")
        return folder

    return write


def _store_records(location: Path | str) -> dict[str, dict[str, Any]]:
    """Every record of a store (a folder or a server URL): id -> metadata plus ``document`` and
    ``embedding`` (a float32 array)."""
    import numpy as np

    from sbert_rag import Store

    opened = Store.open(str(location)).records
    records: dict[str, dict[str, Any]] = {}
    for kind in ("text", "image"):
        rows = opened.read(kind, ["documents", "metadatas", "embeddings"])
        for rid, doc, meta, vec in zip(rows.ids, rows.documents, rows.metadatas, rows.embeddings):
            records[rid] = {**meta, "document": doc, "embedding": np.asarray(vec, dtype=np.float32)}
    return records


@pytest.fixture()
def store_records() -> Any:
    """``store_records(store)``: every record, id -> metadata plus ``document`` and ``embedding``."""
    return _store_records


@pytest.fixture()
def actor_pids(ray_temp_dir: str) -> Any:
    """``actor_pids(title)``: pids of the session runtime's workers whose process title holds ``title``."""
    return lambda title: processes_under(ray_temp_dir, title)


@pytest.fixture()
def child_env() -> dict[str, str]:
    """Environment of a child driver process: offline, this checkout first on the path."""
    return ray_env()
