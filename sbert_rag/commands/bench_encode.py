"""``sbert-rag bench encode``: sbert_rag vs sentence-transformers encode speed, one run, JSON out."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

SHARED = Path("..") / "shared" / "data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag bench encode``."""
    parser.add_argument("--model", default=None, help="model folder (default: packaged all-MiniLM-L6-v2)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--dtype", default="auto", help="sbert_rag precision (default: auto)")
    parser.add_argument(
        "--packed", choices=["auto", "on", "off"], default="auto", help="sbert_rag's padding-free forward (default: auto)"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="sbert_rag batch size (default: its own)")
    parser.add_argument("--short", type=int, default=2000, help="number of STS-B sentences (default 2000)")
    parser.add_argument("--passages", type=int, default=400, help="number of SciFact passages (default 400)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per contender; the best counts")
    parser.add_argument(
        "--max-seconds", type=float, default=None,
        help="no new repeat starts once this many seconds have passed since the start (one always runs)",
    )
    parser.add_argument("--sts", nargs="+", type=Path, default=[SHARED / "stsbenchmark" / "sts-dev.csv", SHARED / "stsbenchmark" / "sts-train.csv"])
    parser.add_argument("--corpus", type=Path, default=SHARED / "scifact" / "corpus.jsonl.gz")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", action="store_true", help="print JSON only")


def run(args: argparse.Namespace) -> int:
    """Run both workloads and print the comparison."""
    import time

    import torch

    from sbert_rag.bench.encode_speed import contenders, run_workload
    from sbert_rag.bench.workloads import passages, short_sentences
    from sbert_rag.encoding.loading import resolve_model_dir
    from sbert_rag.encoding.text_encoder import resolve_device

    started = time.perf_counter()
    deadline = None if args.max_seconds is None else started + args.max_seconds
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    model_dir = str(resolve_model_dir(args.model))
    packed = {"auto": None, "on": True, "off": False}[args.packed]
    fns, ours, baseline = contenders(model_dir, device, args.dtype, args.batch_size, packed)
    loads = {"short": short_sentences(args.sts, args.short), "passages": passages(args.corpus, args.passages, ours)}
    report: dict = {"device": device, "torch_threads": torch.get_num_threads(), "sbert_rag_dtype": ours.dtype.value, "sbert_rag_packed": ours.uses_packed(), "baseline": baseline, "device_name": _device_name(device, torch)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, texts in loads.items():
            res = run_workload(texts, fns, ours, args.repeats, device, deadline)
            res["ratio"] = round(res["sbert_rag"]["tokens_per_s"] / res[baseline]["tokens_per_s"], 2)
            other = "st_bf16_autocast" if baseline == "st_fp32" else "st_fp32"
            res[f"ratio_vs_{other}"] = round(res["sbert_rag"]["tokens_per_s"] / res[other]["tokens_per_s"], 2)
            report[name] = res
            if not args.json:
                print(f"{name}: ratio {res['ratio']} vs {baseline}", file=sys.stderr, flush=True)
    report["ratio_short"] = report["short"]["ratio"]
    report["ratio_passages"] = report["passages"]["ratio"]
    report["min_cosine"] = min(report[w]["sbert_rag"]["min_cosine_vs_st_fp32"] for w in loads)
    report["passages_per_s"] = {name: report["passages"][name]["items_per_s"] for name in fns}
    report["seconds_total"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


def _device_name(device: str, torch: Any) -> str:
    """The GPU's name on CUDA, else the CPU model from /proc/cpuinfo (or the platform's word for it)."""
    if device.startswith("cuda"):
        return str(torch.cuda.get_device_name(torch.device(device)))
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or device
