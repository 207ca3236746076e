"""Cold-start wall time of ``sbert-rag search``: a new process per query, as a shell user runs it.

Builds a store of ``examples/corpus`` with the packaged default model (``sbert-rag index``) in a
temporary folder, then times ``--runs`` fresh ``sbert-rag search`` processes per mode (hybrid,
dense, bm25, interleaved so a busy machine hurts every mode alike) and prints the median wall
seconds per mode. Two more runs per mode are instrumented: the first finds which of torch,
transformers and chromadb the search imports; the second imports those first, each timed, then
runs the CLI's entry point with timers on opening the store, loading the text model, embedding
the query and the search, so the phases come without the imports. The store's share is opening
it plus the search minus model load and query embedding (Chroma and BM25 lookups, hit texts).

    python benchmarks/cold_start.py --json [--runs 5] [--source DIR] [--query "how do bees dance"]

``--source`` runs another checkout of sbert_rag (``git archive <commit> | tar -x -C DIR``), to
compare commits on the same machine in the same state.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("hybrid", "dense", "bm25")

# Runs in the instrumented child: times the phases of one search through the CLI's own entry point.
_PROBE = r"""
import time
STARTED = time.perf_counter()
import functools, importlib, json, os, sys
HEAVY = ("torch", "transformers", "chromadb")
phases = {}
for name in filter(None, os.environ.get("COLD_START_PREIMPORT", "").split(",")):
    start = time.perf_counter()
    importlib.import_module(name)
    phases[name + "_import_s"] = time.perf_counter() - start
import sbert_rag
from sbert_rag.encoding.text_encoder import TextEncoder

phases.update({"store_open_s": 0.0, "model_load_s": 0.0, "query_embed_s": 0.0, "search_s": 0.0})

def timed(real, phase):
    @functools.wraps(real)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            phases[phase] += time.perf_counter() - start
    return wrapper

sbert_rag.Store.open = classmethod(timed(sbert_rag.Store.open.__func__, "store_open_s"))
sbert_rag.Store.search = timed(sbert_rag.Store.search, "search_s")
TextEncoder.from_pretrained = classmethod(timed(TextEncoder.from_pretrained.__func__, "model_load_s"))
TextEncoder.encode_queries = timed(TextEncoder.encode_queries, "query_embed_s")

from sbert_rag.cli import main
phases["startup_s"] = time.perf_counter() - STARTED  # interpreter and imports up to here
start = time.perf_counter()
code = main(sys.argv[1:])
phases["main_s"] = time.perf_counter() - start
phases["imported"] = [name for name in HEAVY if name in sys.modules]
print("PHASES " + json.dumps(phases), file=sys.stderr)
sys.exit(code)
"""


def _env(source: Path) -> dict[str, str]:
    path = os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": path}


def _run(argv: list[str], env: dict[str, str], **options: object) -> subprocess.CompletedProcess[str]:
    """Run a child in the checkout under test: ``-m`` and ``-c`` put the working folder first on the path."""
    source = env["PYTHONPATH"].split(os.pathsep)[0]
    return subprocess.run(argv, env=env, cwd=source, check=True, text=True, **options)  # type: ignore[call-overload]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sbert_rag.cli", *args]


def _timed_run(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    _run(argv, env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _probe(store: Path, query: str, mode: str, env: dict[str, str], preimport: list[str]) -> dict[str, object]:
    argv = [sys.executable, "-c", _PROBE, "search", query, "--store", str(store), "--mode", mode]
    start = time.perf_counter()
    proc = _run(argv, {**env, "COLD_START_PREIMPORT": ",".join(preimport)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    line = next(x for x in proc.stderr.splitlines() if x.startswith("PHASES "))
    return {"wall_s": wall, **json.loads(line[len("PHASES "):])}


def _instrumented(store: Path, query: str, mode: str, env: dict[str, str]) -> dict[str, object]:
    heavy = _probe(store, query, mode, env, [])["imported"]
    phases = _probe(store, query, mode, env, list(heavy))  # type: ignore[arg-type]
    row: dict[str, object] = {"mode": mode, "wall_s": round(float(phases["wall_s"]), 3)}  # type: ignore[arg-type]
    for name in ("torch", "transformers", "chromadb"):
        row[f"{name}_import_s"] = round(float(phases.get(f"{name}_import_s", 0.0)), 3)  # type: ignore[arg-type]
    imports = sum(float(row[f"{name}_import_s"]) for name in ("torch", "transformers", "chromadb"))  # type: ignore[arg-type]
    row["startup_s"] = round(float(phases["startup_s"]) - imports, 3)  # type: ignore[arg-type]  # interpreter, sbert_rag.cli
    for key in ("store_open_s", "model_load_s", "query_embed_s", "search_s"):
        row[key] = round(float(phases[key]), 3)  # type: ignore[arg-type]
    # the store's share (Chroma, BM25, hit texts): opening it, and the search less the model's part
    row["store_s"] = round(row["store_open_s"] + row["search_s"] - row["model_load_s"] - row["query_embed_s"], 3)  # type: ignore[operator]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold processes per mode (default: 5)")
    parser.add_argument("--query", default="how do honeybees tell each other where food is")
    parser.add_argument("--source", type=Path, default=ROOT, help="checkout of sbert_rag to run (default: this one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    env = _env(args.source.resolve())
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        _run(_cli("index", str(ROOT / "examples" / "corpus"), "--store", str(store), "--quiet"), env, stdout=subprocess.DEVNULL)
        for mode in MODES:  # one untimed run each: page cache and .pyc files as for any later search
            _timed_run(_cli("search", args.query, "--store", str(store), "--mode", mode), env)
        walls: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(args.runs):
            for mode in MODES:
                walls[mode].append(_timed_run(_cli("search", args.query, "--store", str(store), "--mode", mode), env))
        breakdown = [_instrumented(store, args.query, mode, env) for mode in MODES]
    result = {
        "source": str(args.source),
        "runs": args.runs,
        "median_wall_s": {mode: round(statistics.median(w), 3) for mode, w in walls.items()},
        "wall_s": {mode: [round(x, 3) for x in w] for mode, w in walls.items()},
        "breakdown": breakdown,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(result))
        return
    for mode in MODES:
        print(f"{mode:>6}: median {result['median_wall_s'][mode]:.2f} s over {args.runs} cold runs")
    for row in breakdown:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
