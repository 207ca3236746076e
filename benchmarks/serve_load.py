"""Load test of ``sbert-rag serve`` against infinity-emb on the same local model folder, loopback only.

Measures, on the packaged all-MiniLM-L6-v2 and STS-B dev sentences:
  - offline ``TextEncoder.encode_passages`` throughput on the inputs of the 32-client level;
  - in-process latency of one sentence (``encode_passages([s])``), p50 and p99;
  - for each server (ours, then infinity-emb 0.0.78 with its torch engine, each alone on the
    machine): 1, 8 and 32 concurrent clients sending requests of 1 and 32 sentences; throughput
    (inputs/s) and p50/p99 request latency. Each level is bounded by a request count and a time cap.

infinity-emb's pins clash with ours, so it runs from its own virtual environment, built once from
``benchmarks/serve-peers-requirements.txt`` (``--peer-venv``, default ~/.cache/sbert-rag-bench/
serve-peers). When it cannot be built or started, the output says why (``infinity_error``) and the
ratios against it are null.

The offline and in-process figures are taken in this process with the OpenMP wait policy the
server sets (``OMP_WAIT_POLICY=PASSIVE`` unless already set). Both servers get the same requests over HTTP/1.1 keep-alive connections from an asyncio client in
this process, with ``encoding_format`` ``base64`` (what the openai client sends by default;
``--format float`` for JSON numbers).

Usage:
    python benchmarks/serve_load.py --json
    python benchmarks/serve_load.py --json --no-peer --levels 1,32 --sizes 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# The OpenMP wait policy `sbert-rag serve` runs with, set before torch loads here, so the offline and
# in-process figures come from the same kernels' behaviour as the server's.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
STS_DEV = ROOT.parent / "shared" / "data" / "stsbenchmark" / "sts-dev.csv"
PEER_REQUIREMENTS = ROOT / "benchmarks" / "serve-peers-requirements.txt"
DEFAULT_PEER_VENV = Path.home() / ".cache" / "sbert-rag-bench" / "serve-peers"
MODEL_NAME = "all-MiniLM-L6-v2"


def sentences(path: Path) -> list[str]:
    """Both sentences of every STS-B dev pair (tab-separated, sentences in columns 6 and 7)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) >= 7:
            out += [cols[5], cols[6]]
    return out


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# ------------------------------------------------------------------ the load generator
class Connection:
    """One keep-alive HTTP/1.1 connection; ``post`` returns (status, body)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        await self.writer.drain()
        assert self.reader is not None
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def run_level(port: int, path: str, bodies: list[bytes], clients: int, max_s: float) -> dict[str, float]:
    """``clients`` connections send ``bodies`` (shared, in order) until done or ``max_s`` passes."""
    next_body = 0
    latencies: list[float] = []
    sent_inputs = 0
    errors: dict[int, int] = {}
    start = time.perf_counter()
    deadline = start + max_s

    async def client() -> None:
        nonlocal next_body, sent_inputs
        conn = Connection(port)
        try:
            while next_body < len(bodies) and time.perf_counter() < deadline:
                body, n = bodies[next_body]
                next_body += 1
                t0 = time.perf_counter()
                status, _ = await conn.post(path, body)
                if status != 200:
                    errors[status] = errors.get(status, 0) + 1
                    continue
                latencies.append(time.perf_counter() - t0)
                sent_inputs += n
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - start
    return {"clients": clients, "requests": len(latencies), "inputs": sent_inputs, "seconds": round(wall, 2),
            "inputs_per_s": round(sent_inputs / wall, 1), "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1), "errors": errors}


def make_bodies(texts: list[str], size: int, count: int, model: str, fmt: str, offset: int) -> list[tuple[bytes, int]]:
    out = []
    for i in range(count):
        start = (offset + i * size) % (len(texts) - size)
        body = {"input": texts[start:start + size], "model": model, "encoding_format": fmt}
        out.append((json.dumps(body).encode(), size))
    return out


def measure_server(port: int, path: str, model: str, texts: list[str], args: argparse.Namespace) -> list[dict]:
    rows = []
    check = make_bodies(texts, 2, 1, model, args.format, 0)[0][0]
    status, body = asyncio.run(_one(port, path, check))
    if status != 200 or len(json.loads(body)["data"]) != 2:
        raise RuntimeError(f"the server answered {status}: {body[:300]!r}")
    for size in args.sizes:
        for clients in args.levels:
            n_requests = max(clients * 4, -(-args.inputs_per_level // size))
            bodies = make_bodies(texts, size, n_requests, model, args.format, offset=clients * 7 + size)
            asyncio.run(run_level(port, path, bodies[: clients * 2], clients, 30))  # warm-up, not counted
            row = asyncio.run(run_level(port, path, bodies, clients, args.max_seconds))
            rows.append({"size": size, **row})
            print(f"  {size:>2} sentences x {clients:>2} clients: {row['inputs_per_s']:>7} inputs/s  "
                  f"p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms", file=sys.stderr, flush=True)
    return rows


async def _one(port: int, path: str, body: bytes) -> tuple[int, bytes]:
    conn = Connection(port)
    try:
        return await conn.post(path, body)
    finally:
        conn.close()


# ------------------------------------------------------------------ servers
def wait_ready(proc: subprocess.Popen, url: str, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode}: {log.read_text(errors='replace')[-1500:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"not ready after {timeout_s:.0f} s: {log.read_text(errors='replace')[-1500:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def peer_python(venv: Path) -> Path:
    """The peer environment's python with infinity-emb installed, built on first use."""
    exe = venv / "bin" / "infinity_emb"
    if not exe.exists():
        print(f"building the peer environment in {venv} (once)", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(PEER_REQUIREMENTS)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pip could not install {PEER_REQUIREMENTS.name}: {done.stderr.strip()[-1500:]}")
    return exe


def run_ours(texts: list[str], args: argparse.Namespace, workdir: Path) -> list[dict]:
    port, log = free_port(), workdir / "ours.log"
    cmd = [sys.executable, "-m", "sbert_rag.cli", "serve", "--port", str(port), "--device", "cpu"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}/health", log, 180)
        print("sbert-rag serve:", file=sys.stderr, flush=True)
        return measure_server(port, "/v1/embeddings", MODEL_NAME, texts, args)
    finally:
        stop(proc)


def run_infinity(texts: list[str], args: argparse.Namespace, workdir: Path, model_dir: Path) -> list[dict]:
    exe = peer_python(args.peer_venv)
    port, log = free_port(), workdir / "infinity.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0",
           "DO_NOT_TRACK": "1"}
    cmd = [str(exe), "v2", "--model-id", str(model_dir), "--served-model-name", MODEL_NAME, "--engine", "torch",
           "--device", "cpu", "--host", "127.0.0.1", "--port", str(port), "--url-prefix", ""]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}/health", log, 300)
        print("infinity-emb:", file=sys.stderr, flush=True)
        return measure_server(port, "/embeddings", MODEL_NAME, texts, args)
    finally:
        stop(proc)


# ------------------------------------------------------------------ in-process figures
def in_process(texts: list[str], n_offline: int) -> dict[str, float]:
    from sbert_rag import TextEncoder

    enc = TextEncoder.from_pretrained(device="cpu")  # the settings `sbert-rag serve --device cpu` loads
    work = texts[:n_offline]
    enc.encode_passages(work[:256])  # warm-up
    rates = []
    for _ in range(2):
        t0 = time.perf_counter()
        enc.encode_passages(work, show_progress=False)
        rates.append(len(work) / (time.perf_counter() - t0))
    lat = []
    for s in texts[:200]:
        t0 = time.perf_counter()
        enc.encode_passages([s])
        lat.append(time.perf_counter() - t0)
    return {"offline_inputs_per_s": round(max(rates), 1), "inprocess_p50_ms_1": round(percentile(lat, 50) * 1000, 2),
            "inprocess_p99_ms_1": round(percentile(lat, 99) * 1000, 2), "dtype": enc.dtype.value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--levels", default="1,8,32", help="concurrent clients (default: 1,8,32)")
    parser.add_argument("--sizes", default="1,32", help="sentences per request (default: 1,32)")
    parser.add_argument("--inputs-per-level", type=int, default=3072, help="inputs sent per level (default: 3072)")
    parser.add_argument("--max-seconds", type=float, default=20, help="time cap of one level (default: 20)")
    parser.add_argument("--format", default="base64", choices=["base64", "float"], help="encoding_format sent")
    parser.add_argument("--no-peer", action="store_true", help="measure sbert-rag serve only")
    parser.add_argument("--peer-venv", type=Path, default=DEFAULT_PEER_VENV, help="infinity-emb's virtual environment")
    parser.add_argument("--sentences", type=Path, default=STS_DEV, help="STS-B file (default: the shared dev set)")
    args = parser.parse_args()
    args.levels = [int(x) for x in args.levels.split(",")]
    args.sizes = [int(x) for x in args.sizes.split(",")]

    from sbert_rag import default_model_path

    texts = sentences(args.sentences)
    result: dict = {"model": MODEL_NAME, "sentences": args.sentences.name, "encoding_format": args.format,
                    "cpus": os.cpu_count(), "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    result.update(in_process(texts, args.inputs_per_level))
    with tempfile.TemporaryDirectory() as tmp:
        result["ours"] = run_ours(texts, args, Path(tmp))
        result["infinity"], result["infinity_error"] = [], None
        if not args.no_peer:
            try:
                result["infinity"] = run_infinity(texts, args, Path(tmp), default_model_path())
            except (RuntimeError, OSError, subprocess.CalledProcessError) as err:
                result["infinity_error"] = str(err)

    def pick(rows: list[dict], size: int, clients: int, key: str) -> float | None:
        return next((r[key] for r in rows if r["size"] == size and r["clients"] == clients), None)

    top, big = max(args.levels), max(args.sizes)
    ours_32, inf_32 = pick(result["ours"], big, top, "inputs_per_s"), pick(result["infinity"], big, top, "inputs_per_s")
    result.update(
        ours_tput_32=ours_32, infinity_tput_32=inf_32,
        ratio_vs_infinity=round(ours_32 / inf_32, 2) if ours_32 and inf_32 else None,
        ratio_vs_offline=round(ours_32 / result["offline_inputs_per_s"], 3) if ours_32 else None,
        p99_ms_1=pick(result["ours"], min(args.sizes), min(args.levels), "p99_ms"),
        load_average_end=[round(x, 2) for x in os.getloadavg()],
    )
    p99 = result["p99_ms_1"]
    result["goals"] = {
        "tput_32_vs_infinity_ge_1.5": None if result["ratio_vs_infinity"] is None else result["ratio_vs_infinity"] >= 1.5,
        "tput_32_vs_offline_ge_0.85": None if result["ratio_vs_offline"] is None else result["ratio_vs_offline"] >= 0.85,
        "p99_1_le_2x_inprocess_p99": None if p99 is None else p99 <= 2 * result["inprocess_p99_ms_1"],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
