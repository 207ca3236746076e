"""Does ONNX Runtime beat the torch path here? fp32 (BERT-fused graph) and int8 dynamic quantisation.

Needs the `onnx` package besides onnxruntime (which chromadb already installs):
    python -m pip install onnx
    HF_HUB_OFFLINE=1 python benchmarks/onnxruntime_probe.py --json

Exports the packaged all-MiniLM-L6-v2 (transformer + mean pooling) with torch's TorchScript
exporter, fuses it with onnxruntime.transformers' BERT optimizer, quantises a copy to int8
(dynamic, per-tensor weights), and times both sessions against sbert_rag's default encoder on the
same token rows and the same length-sorted batches, in one process, best of --repeats runs. Prints
tokens/s and min cosine against sbert_rag's fp32 Hugging Face forward. A probe logged in benchmarks/RESULTS.md,
not a supported path.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from sbert_rag import TextEncoder
from sbert_rag.bench.workloads import passages, short_sentences
from sbert_rag.encoding.batching import plan_batches

SHARED = Path("..") / "shared" / "data"
INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


class _MeanPooled(torch.nn.Module):
    def __init__(self, hf: torch.nn.Module) -> None:
        super().__init__()
        self.hf = hf

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.hf(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def build_sessions(reference: TextEncoder, folder: Path, threads: int) -> dict[str, object]:
    """fp32 (fused) and int8 ONNX Runtime sessions of the reference encoder's transformer."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    plain, fused, int8 = folder / "model.onnx", folder / "fused.onnx", folder / "int8.onnx"
    example = tuple(torch.ones(2, 16, dtype=torch.long) if n != "token_type_ids" else torch.zeros(2, 16, dtype=torch.long) for n in INPUTS)
    axes = {n: {0: "batch", 1: "seq"} for n in INPUTS} | {"embedding": {0: "batch"}}
    model = _MeanPooled(reference.module.transformer).eval()
    torch.onnx.export(model, example, str(plain), input_names=INPUTS, output_names=["embedding"], dynamic_axes=axes, opset_version=17, dynamo=False)
    config = reference.module.transformer.config
    optimizer.optimize_model(str(plain), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size).save_model_to_file(str(fused))
    quantize_dynamic(str(fused), str(int8), weight_type=QuantType.QInt8, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return {name: ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]) for name, path in (("ort_fp32", fused), ("ort_int8", int8))}


def ort_encode(session: object, rows: list[list[int]]) -> np.ndarray:
    """Mean-pooled, normalised vectors of token rows, in the encoder's batches."""
    out = np.zeros((len(rows), session.get_outputs()[0].shape[-1] or 384), dtype=np.float32)  # type: ignore[attr-defined]
    for idx in plan_batches([len(r) for r in rows], 256, 8192):
        width = max(len(rows[i]) for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for j, i in enumerate(idx):
            ids[j, : len(rows[i])] = rows[i]
            mask[j, : len(rows[i])] = 1
        out[idx] = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]  # type: ignore[attr-defined]
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def compare(texts: list[str], reference: TextEncoder, sessions: dict[str, object], ours: TextEncoder, repeats: int) -> dict[str, dict[str, float]]:
    rows = reference.tokens.prepare(texts, prompt="", policy=reference.overflow, window_overlap=32, what="text").rows
    tokens = sum(len(r) for r in rows)
    ref = reference.encode(texts, show_progress=False)
    fns: dict[str, Callable[[], np.ndarray]] = {name: (lambda s=s: ort_encode(s, rows)) for name, s in sessions.items()}
    fns["sbert_rag"] = lambda: ours.encode(texts, show_progress=False)
    best = {name: float("inf") for name in fns}
    cosine: dict[str, float] = {}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            vectors = fn()
            best[name] = min(best[name], time.perf_counter() - start)
            cosine[name] = float((vectors * ref).sum(1).min())
    return {name: {"tokens_per_s": round(tokens / best[name], 1), "min_cosine_vs_fp32": round(cosine[name], 6)} for name in fns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=3000)
    parser.add_argument("--passages", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    reference = TextEncoder.from_pretrained(device="cpu", dtype="float32", packed=False)
    ours = TextEncoder.from_pretrained(device="cpu")
    loads = {
        "short": short_sentences([SHARED / "stsbenchmark" / "sts-dev.csv", SHARED / "stsbenchmark" / "sts-train.csv"], args.short),
        "passages": passages(SHARED / "scifact" / "corpus.jsonl.gz", args.passages, reference),
    }
    with tempfile.TemporaryDirectory() as tmp:
        sessions = build_sessions(reference, Path(tmp), args.threads)
        report = {name: compare(texts, reference, sessions, ours, args.repeats) for name, texts in loads.items()}
    report["sbert_rag_dtype"] = ours.dtype.value  # type: ignore[assignment]
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
