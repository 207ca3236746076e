"""Encode throughput of sbert_rag against sentence-transformers, same model, texts and process.

Owns the timing protocol: every contender encodes the same list, runs are interleaved and
repeated, and the best run of each counts (these machines are noisy; the best run is the one
least disturbed). Prints items/s, tokens/s, the ratios, and min cosine to sentence-transformers
fp32, the reference vectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _timed(fn: Callable[[], np.ndarray], sync: Callable[[], None]) -> tuple[float, np.ndarray]:
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - start, out


def contenders(
    model_dir: str, device: str, dtype: str, batch_size: int | None, packed: bool | None = None
) -> tuple[dict[str, Callable], Any, str]:
    """The encode functions to compare, the sbert_rag encoder, and the baseline's name."""
    import torch
    from sentence_transformers import SentenceTransformer

    from sbert_rag.encoding.text_encoder import TextEncoder

    st = SentenceTransformer(model_dir, device=device)
    options: dict[str, Any] = {"packed": packed, **({"batch_size": batch_size} if batch_size else {})}
    ours = TextEncoder.from_pretrained(model_dir, device=device, dtype=dtype, **options)
    fns: dict[str, Callable] = {"st_fp32": lambda texts: st.encode(texts, convert_to_numpy=True)}
    if device.startswith("cuda"):
        st_half = SentenceTransformer(model_dir, device=device, model_kwargs={"dtype": torch.float16})
        fns["st_fp16"] = lambda texts: st_half.encode(texts, convert_to_numpy=True)
        baseline = "st_fp16"
    else:
        def st_bf16(texts: list[str]) -> np.ndarray:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return st.encode(texts, convert_to_numpy=True)

        fns["st_bf16_autocast"] = st_bf16
        baseline = "st_fp32"
    fns["sbert_rag"] = lambda texts: ours.encode(texts, overflow="warn", show_progress=False)
    return fns, ours, baseline


def run_workload(
    texts: list[str], fns: dict[str, Callable], ours: Any, repeats: int, device: str, deadline: float | None = None
) -> dict[str, Any]:
    """Time every contender on ``texts``; report items/s, tokens/s and min cosine to st_fp32.

    ``deadline`` (a ``time.perf_counter()`` value): no further repeat starts after it; the first
    always runs. The result's ``repeats`` says how many ran.
    """
    import torch

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    limit = ours.max_tokens
    tokens = int(sum(min(n, limit) for n in ours.count_tokens(texts)))
    best: dict[str, float] = {}
    outputs: dict[str, np.ndarray] = {}
    for name, fn in fns.items():  # warm-up: kernel builds, allocator, lazy imports
        fn(texts[: min(len(texts), 64)])
    done = 0
    for _ in range(repeats):
        if done and deadline is not None and time.perf_counter() > deadline:
            break
        done += 1
        for name, fn in fns.items():
            seconds, out = _timed(lambda: fn(texts), sync)
            best[name] = min(best.get(name, float("inf")), seconds)
            outputs[name] = out
    ref = outputs["st_fp32"] / np.linalg.norm(outputs["st_fp32"], axis=1, keepdims=True)
    result: dict[str, Any] = {"items": len(texts), "distinct": len(set(texts)), "tokens": tokens, "repeats": done}
    for name, seconds in best.items():
        vec = outputs[name] / np.linalg.norm(outputs[name], axis=1, keepdims=True)
        result[name] = {
            "seconds": round(seconds, 3),
            "items_per_s": round(len(texts) / seconds, 1),
            "tokens_per_s": round(tokens / seconds, 1),
            "min_cosine_vs_st_fp32": round(float((vec * ref).sum(1).min()), 6),
        }
    return result
