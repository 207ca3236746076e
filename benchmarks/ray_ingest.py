"""Ingest one corpus locally and on Ray (1 and 2 workers) into a Chroma server, in one run.

The SciFact corpus (its first ``--docs`` documents, as files: ``beir_as_files.py``) is indexed
three times into three collections of one ``chroma run`` server started here on loopback:

- ``local``: ``Store.add_folder`` in this process (``sbert-rag index --engine local``), torch on
  every core;
- ``ray1``: ``index_folder_distributed`` with 1 actor given every core (``--engine ray --workers 1``);
- ``ray2``: 2 actors sharing the cores (``--workers 2``).

Each time covers the whole run (models loaded, files read and chunked, embedded, written); the
Ray runtime is started before (as a cluster already running), and each Ray run starts its own
actors. The three stores must hold the same ids. Then ``search_p50_ms``/``search_p99_ms``: hybrid
``k=10`` searches of the server store by SciFact dev queries, from a client whose cache is warm
(``search_cold_ms``: the first search, which builds the cache from the server's records), and
``server_write_records_per_s``: how fast the server takes records whose vectors are given (the
ceiling of one Chroma server, whatever embeds).

    python benchmarks/ray_ingest.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beir_as_files import write_corpus  # noqa: E402 - the benchmark folder is not a package

from sbert_rag import Store  # noqa: E402
from sbert_rag.evaluation import load_beir  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_chroma(folder: Path) -> tuple[subprocess.Popen, str]:
    """``chroma run`` on a free loopback port; returns the process and its URL once it answers."""
    port = _free_port()
    log = (folder / "chroma.log").open("wb")
    proc = subprocess.Popen(["chroma", "run", "--path", str(folder / "db"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"chroma run did not start: {(folder / 'chroma.log').read_text()[-2000:]}")


def timed_run(name: str, files: Path, url: str, dtype: str, workers: int | None) -> dict[str, Any]:
    """Index ``files`` into collection ``name``: locally (``workers`` None) or on that many Ray actors."""
    started = time.perf_counter()
    store = Store.open(f"{url}/{name}", create=True, dtype=dtype)
    if workers is None:
        report = store.add_folder(files)
    else:
        from sbert_rag.distributed import index_folder_distributed

        cores = os.cpu_count() or 1
        report = index_folder_distributed(files, store, workers=workers, cpus_per_worker=max(1, cores // workers))
    seconds = time.perf_counter() - started
    chunks = report.chunks_added
    print(f"{name}: {chunks} chunks in {seconds:.1f} s = {chunks / seconds:.2f} chunks/s", file=sys.stderr)
    return {"seconds": round(seconds, 2), "chunks": chunks, "chunks_per_s": round(chunks / seconds, 3)}


def server_write_rate(url: str, name: str, batch: int = 500) -> float:
    """Records per second the server takes: the ``name`` store's records upserted again, vectors given."""
    source = Store.open(f"{url}/{name}").records
    rows = source.read("text", ["documents", "metadatas", "embeddings"])
    client = source.connect()
    target = client.create_collection("write-rate", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    started = time.perf_counter()
    for a in range(0, len(rows.ids), batch):
        target.upsert(ids=rows.ids[a:a + batch], embeddings=np.asarray(rows.embeddings[a:a + batch]),
                      documents=rows.documents[a:a + batch], metadatas=rows.metadatas[a:a + batch])
    return round(len(rows.ids) / (time.perf_counter() - started), 1)


def search_latency(url: str, queries: list[str], dtype: str) -> dict[str, float]:
    """Hybrid k=10 searches of the server store from a fresh client: the first, then the warm ones."""
    store = Store.open(url, dtype=dtype)
    store.models.text  # noqa: B018 - load the model before timing, as a long-running app has it
    started = time.perf_counter()
    store.search(queries[0], k=10)
    cold = time.perf_counter() - started
    times = []
    for query in queries:
        started = time.perf_counter()
        store.search(query, k=10)
        times.append(time.perf_counter() - started)
    ms = np.asarray(times) * 1000
    return {"search_cold_ms": round(cold * 1000, 1), "search_p50_ms": round(float(np.percentile(ms, 50)), 1),
            "search_p99_ms": round(float(np.percentile(ms, 99)), 1), "queries": len(queries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED), help="BEIR folder (default: shared SciFact)")
    parser.add_argument("--docs", type=int, default=600, help="first N corpus documents (default: 600)")
    parser.add_argument("--queries", type=int, default=200, help="dev queries timed (default: 200)")
    parser.add_argument("--dtype", default="auto", help="text model dtype (default: auto)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a local runtime on 127.0.0.1 only
    import ray

    dataset = load_beir(args.data, "dev")
    work = Path(tempfile.mkdtemp(prefix="sbert-rag-ray-ingest-"))
    os.environ["SBERT_RAG_CACHE"] = str(work / "cache")
    files = work / "files"
    written = write_corpus(list(dataset.corpus.values())[: args.docs], files)
    chroma, url = start_chroma(work)
    try:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                 object_store_memory=500 * 1024 * 1024)
        runs = {
            "local": timed_run("local", files, url, args.dtype, None),
            "ray1": timed_run("ray1", files, url, args.dtype, 1),
            "ray2": timed_run("ray2", files, url, args.dtype, 2),
        }
        ids = {name: set(Store.open(f"{url}/{name}").records.read("text").ids) for name in runs}
        same = ids["local"] == ids["ray1"] == ids["ray2"]
        queries = [q for q in dataset.queries.values()][: args.queries]
        latency = search_latency(f"{url}/local", queries, args.dtype)
        write_rate = server_write_rate(url, "local")
    finally:
        ray.shutdown()
        chroma.terminate()
        chroma.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    local, ray1, ray2 = (runs[n]["chunks_per_s"] for n in ("local", "ray1", "ray2"))
    result = {
        "files": written, "chunks": runs["local"]["chunks"], "cores": os.cpu_count(), "dtype": args.dtype,
        "local_chunks_per_s": local, "ray1_chunks_per_s": ray1, "ray2_chunks_per_s": ray2,
        "ray_overhead": round(local / ray1 - 1, 3),
        "ray2_over_ray1": round(ray2 / ray1, 3),
        "same_ids": same, **latency, "server_write_records_per_s": write_rate, "runs": runs,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
