"""Stores on a Chroma server: ``Store.open("http://127.0.0.1:PORT/NAME")`` against a real ``chroma run``.

The server is started once per session on a free loopback port (tests/conftest.py) and stopped
by its pid; each test writes its own collection and keeps its search cache in its own folder.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import sbert_rag
from sbert_rag import Store


@pytest.fixture()
def server(chroma_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The Chroma server's base URL; this test's search cache lives in its tmp_path."""
    monkeypatch.setenv("SBERT_RAG_CACHE", str(tmp_path / "cache"))
    return f"http://127.0.0.1:{chroma_server}"


def _url(server: str) -> str:
    """A new collection on the server, for one test."""
    return f"{server}/t-{uuid.uuid4().hex[:12]}"


def _top(store: Store, query: str, mode: str = "hybrid") -> list[str]:
    return [h.id for h in store.search(query, k=10, mode=mode)]


def test_a_server_store_holds_and_ranks_what_a_folder_store_does(server: str, corpus: Path, tmp_path: Path,
                                                                  store_records) -> None:
    local = Store.open(tmp_path / "local", create=True)
    local.add_folder(corpus)
    remote = Store.open(_url(server), create=True)
    report = remote.add_folder(corpus)
    assert report.totals["chunks"] == local.info()["chunks"] > 0
    assert store_records(remote.location) == store_records(local.path)  # ids, texts, metadata
    for query in ("how do I stop silent truncation", "photovoltaic inverter", "bees dance"):
        for mode in ("hybrid", "dense", "bm25"):
            assert _top(remote, query, mode) == _top(local, query, mode), (query, mode)
    reopened = Store.open(remote.location)  # another client: its own cache, built from the server
    assert reopened.info()["model"] == local.info()["model"]
    hit = reopened.search("how do I stop silent truncation", k=1)[0]
    assert hit.file == "silent-truncation.md" and hit.text in (corpus / hit.file).read_text()
    again = remote.add_folder(corpus)
    assert again.unchanged == again.files and again.chunks_added == 0


def test_writes_by_other_clients_reach_a_searching_client(server: str) -> None:
    url = _url(server)
    writer, reader = Store.open(url, create=True), None
    writer.add_texts(["the cat sits on the tree"], ids=["cat"])
    reader = Store.open(url)
    assert _top(reader, "cat", "bm25") == ["cat"]  # reader's cache now built
    Store.open(url).add_texts(["a zebra grazes on the plain"], ids=["zebra"])
    assert _top(reader, "zebra", "bm25") == ["zebra"]
    # the same id with new content: a cache stamped with the ids alone would keep the old text
    Store.open(url).add_texts(["an okapi hides in the forest"], ids=["zebra"])
    assert _top(reader, "okapi", "bm25") == ["zebra"] and _top(reader, "zebra", "bm25") == []
    assert reader.get(["zebra"])[0].text == "an okapi hides in the forest"
    Store.open(url).delete(["cat"])
    assert reader.search("cat", k=5, mode="bm25") == [] and reader.info()["chunks"] == 1


def test_two_writers_and_a_searcher_at_once(server: str, child, tmp_path: Path) -> None:
    """Two writer processes add texts while a third searches; at the end every record is found."""
    import subprocess

    url = _url(server)
    Store.open(url, create=True).add_texts(["the first record"], ids=["seed"])
    script = (
        "import sys, sbert_rag\n"
        "store = sbert_rag.Store.open(sys.argv[1])\n"
        "for i in range(int(sys.argv[3])):\n"
        "    store.add_texts([f'{sys.argv[2]} writes line {i}'], ids=[f'{sys.argv[2]}-{i}'])\n"
    )
    argv, env = child()
    env = {**env, "SBERT_RAG_CACHE": str(tmp_path / "writers")}
    writers = [subprocess.Popen([argv[0], "-c", script, url, name, "12"], env=env, stderr=subprocess.PIPE)
               for name in ("alpha", "beta")]
    reader, seen, errors = Store.open(url), set(), []
    try:
        while any(w.poll() is None for w in writers):
            try:
                seen.update(h.id for h in reader.search("writes line", k=30, mode="bm25"))
            except Exception as err:  # noqa: BLE001 - any failure while others write is the finding
                errors.append(err)
            time.sleep(0.05)
    finally:
        outputs = [w.communicate(timeout=120)[1].decode() for w in writers]
    assert [w.returncode for w in writers] == [0, 0], outputs
    assert not errors
    final = {h.id for h in reader.search("writes line", k=30, mode="bm25")}
    expected = {f"{name}-{i}" for name in ("alpha", "beta") for i in range(12)}
    assert final == expected and seen <= expected
    assert reader.info()["chunks"] == 25


def test_an_interrupted_ingest_resumes_with_nothing_lost_or_twice(
    server: str, index_runs, generated_corpus, tiny_models, tmp_path: Path, store_records, cli
) -> None:
    files = 30
    corpus = generated_corpus(tmp_path / "notes", files)
    options = ("--model", str(tiny_models[0]), "--embed-batch", "2", "--dtype", "float32")
    clean, resumed, log = _url(server), _url(server), tmp_path / "run.log"
    code, out, err = cli("index", str(corpus), "--store", clean, "--json", "--quiet", *options)
    assert code == 0, err
    expected = store_records(clean)
    proc = index_runs.start(corpus, resumed, log, *options)
    index_runs.wait_for(proc, log, files, 10)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    partial = store_records(resumed)
    assert 0 < len(partial) < len(expected) and all(partial[i] == expected[i] for i in partial)
    code, out, err = cli("index", str(corpus), "--store", resumed, "--json", "--quiet", *options)
    assert code == 0, err
    assert json.loads(out)["unchanged"] >= 10
    assert store_records(resumed) == expected


def test_the_cli_over_a_server_store(server: str, corpus: Path, cli) -> None:
    url = _url(server)
    base, name = url.rsplit("/", 1)
    code, out, err = cli("index", str(corpus), "--store", base, "--collection", name, "--json", "--quiet")
    assert code == 0, err
    assert json.loads(out)["store"] == url
    code, out, err = cli("search", "how do I stop silent truncation", "--store", url, "--json", "--k", "2")
    assert code == 0, err
    assert json.loads(out)[0]["file"] == "silent-truncation.md"
    code, out, err = cli("info", "--store", url, "--json")
    assert code == 0 and json.loads(out)["chunks"] >= 9 and json.loads(out)["store"] == url
    code, _, err = cli("search", "anything", "--store", f"{base}/no-such-store")
    assert code == 2 and "no sbert-rag store in collection 'no-such-store'" in err and "--store" in err
    code, _, err = cli("info", "--store", str(corpus), "--collection", name)
    assert code == 2 and "--collection" in err


def test_a_client_creating_the_store_with_another_model_is_refused(server: str, tiny_models) -> None:
    url = _url(server)
    first = Store.open(url, create=True, model=str(tiny_models[0]), dtype="float32")
    second = Store.open(url, create=True, model=str(tiny_models[1]), dtype="float32")  # neither sees a store yet
    first.add_texts(["the cat sits"])
    with pytest.raises(sbert_rag.ConfigError, match="was built with model .*plain.* but the model loaded now .*prompted"):
        second.add_texts(["the dog runs"])
    assert Store.open(url).info()["chunks"] == 1


def test_a_collection_written_by_someone_else_is_refused(server: str) -> None:
    url = _url(server)
    name = url.rsplit("/", 1)[1]
    client = Store.open(url, create=True).records.connect()
    client.create_collection(name, embedding_function=None).add(ids=["x"], embeddings=[[0.1, 0.2]], documents=["x"])
    with pytest.raises(sbert_rag.ConfigError, match="holds 1 records that sbert-rag did not write"):
        Store.open(url, create=True).add_texts(["hello"])
    assert client.get_collection(name).count() == 1  # nothing of theirs touched


# ---------------------------------------------------------------------- servers that fail
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_that_is_down_is_named_at_once() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(sbert_rag.StoreUnavailableError, match=f"cannot reach a Chroma server at {url}"):
        Store.open(url)
    assert time.monotonic() - started < 10


@pytest.fixture()
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def test_a_server_that_never_answers_fails_within_ten_seconds(silent_server: int) -> None:
    url = f"http://127.0.0.1:{silent_server}"
    started = time.monotonic()
    with pytest.raises(sbert_rag.StoreUnavailableError, match=url):
        Store.open(f"{url}/docs", create=True)
    assert time.monotonic() - started < 10


@pytest.fixture()
def guarded_server() -> Iterator[tuple[int, list[Any]]]:
    """A loopback HTTP server refusing every request with 401; yields its port and the headers seen."""
    seen: list[Any] = []

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append(self.headers.get("Authorization"))
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1]), seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_refused_token_is_named(guarded_server: tuple[int, list[Any]], monkeypatch, cli) -> None:
    port, seen = guarded_server
    with pytest.raises(sbert_rag.StoreUnavailableError, match="refused the token given .HTTP 401"):
        Store.open(f"http://127.0.0.1:{port}", token="s3cret")
    assert seen == ["Bearer s3cret"]
    monkeypatch.setenv("MY_CHROMA_TOKEN", "from-env")
    code, _, err = cli("info", "--store", f"http://127.0.0.1:{port}", "--token-env", "MY_CHROMA_TOKEN")
    assert code == 2 and "refused the token given" in err and "--token-env" in err
    assert seen[-1] == "Bearer from-env"


def test_malformed_locations_are_named() -> None:
    with pytest.raises(sbert_rag.InvalidInputError, match="names no host"):
        Store.open("http://:8000")
    with pytest.raises(sbert_rag.InvalidInputError, match="collection name 'ab' is not one Chroma accepts"):
        Store.open("http://127.0.0.1:8000/ab")
    with pytest.raises(sbert_rag.InvalidInputError, match="names collection 'one' but collection 'two'"):
        Store.open("http://127.0.0.1:8000/one", collection="two")
