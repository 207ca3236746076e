"""Fixtures of the server tests: ``sbert-rag serve`` subprocesses on 127.0.0.1, stopped by pid.

Two servers per session: the packaged all-MiniLM-L6-v2 in float32 (real clients, concurrency; it
needs an API key), and the tiny test BERT saved as a sentence-transformers folder (overflow
``error``, a queue of one and a long batch wait, so that a second request finds the queue full
and SIGTERM arrives while requests are in flight).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

API_KEY = "test-key-7f3a"
KEY_ENV = "SBERT_RAG_TEST_SERVE_KEY"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    api_key: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(args: list[str], log: Path, env: dict[str, str] | None = None, timeout_s: float = 120) -> Server:
    """Start ``python -m sbert_rag.cli serve ARGS --port P`` and wait until ``/health`` answers 200."""
    import httpx

    port = free_port()
    handle = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "sbert_rag.cli", "serve", *args, "--port", str(port)],
                            stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **(env or {})})
    handle.close()
    server = Server(proc, port, log)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"sbert-rag serve did not get ready: {server.log_text()[-3000:]}")
        time.sleep(0.2)


def stop_server(server: Server) -> int | None:
    """SIGTERM the server by its pid; its exit status (None if it had to be killed)."""
    if server.proc.poll() is None:
        server.proc.terminate()
    try:
        return server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
        return None


@pytest.fixture(scope="session")
def minilm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The packaged model, float32 on the CPU, key required, at most 100 inputs and 1 MiB per request."""
    log = tmp_path_factory.mktemp("minilm_server") / "server.log"
    server = start_server(["--device", "cpu", "--dtype", "float32", "--api-key-env", KEY_ENV,
                           "--max-request-inputs", "100", "--max-body-mb", "1"], log, {KEY_ENV: API_KEY})
    server.api_key = API_KEY
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def tiny_st_dir(tmp_path_factory: pytest.TempPathFactory, _tiny_encoder_session) -> Path:
    """The tiny test BERT saved as a sentence-transformers folder (loads without a pooling option)."""
    folder = tmp_path_factory.mktemp("tiny_st") / "tiny-bert"
    _tiny_encoder_session.save(folder)
    return folder


@pytest.fixture()
def tiny_server(tiny_st_dir: Path, tmp_path: Path) -> Iterator[Server]:
    """The tiny model with overflow ``error``, one waiting request at most and a 300 ms batch wait
    (requests stay in flight a while); a fresh process per test, which may stop it itself."""
    server = start_server(["--model", str(tiny_st_dir), "--device", "cpu", "--dtype", "float32", "--overflow",
                           "error", "--max-queue", "1", "--batch-wait-ms", "300"], tmp_path / "server.log")
    yield server
    stop_server(server)
