"""What this CPU's kernels reach on all-MiniLM-L6-v2's shapes: the ceiling of any encode speed-up.

Run from the repository root:
    python benchmarks/kernel_peaks.py --json

Prints GFLOP/s of the model's matrix products (fp32 and bf16, plain torch and oneDNN-prepacked
with the fused GELU), of the same products in int8 (``torch._int_mm``: int8 x int8 -> int32, the
VNNI kernel any int8 mode would run; quantising costs extra and is not counted), and of attention
on one 256-token row (12 heads of 32: torch's SDPA and the matmul-softmax-matmul the packed
forward runs), plus the softmax alone. The ratio of the bf16 to the fp32 matrix products bounds
what bf16 can gain over sentence-transformers' fp32 encode; the int8 figure says whether an int8
mode could go past that bound on this CPU.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F


def _seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmuls(tokens: int, repeats: int) -> dict[str, float]:
    """GFLOP/s of the four projection shapes of one layer, summed over the layer."""
    shapes = [(384, 384)] * 4 + [(384, 1536), (1536, 384)]  # q, k, v, out; up (GELU); down
    flops = sum(2 * tokens * k * n for k, n in shapes)
    out: dict[str, float] = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        xs = {k: torch.randn(tokens, k, dtype=dtype) for k in (384, 1536)}
        ws = [(torch.randn(n, k, dtype=dtype), torch.randn(n, dtype=dtype)) for k, n in shapes]

        def plain(xs: dict = xs, ws: list = ws) -> None:
            for i, (w, b) in enumerate(ws):
                y = F.linear(xs[w.shape[1]], w, b)
                if i == 4:
                    F.gelu(y)

        out[f"linear_{name}_gflops"] = round(flops / _seconds(plain, repeats) / 1e9, 1)
        if torch.backends.mkldnn.is_available():
            try:
                packed = [(torch.ops.mkldnn._reorder_linear_weight(w, tokens), b) for w, b in ws]
            except RuntimeError as err:  # e.g. bf16 on a CPU without AVX-512 or AVX-NE-CONVERT
                out[f"onednn_{name}_unavailable"] = str(err).splitlines()[0]
                continue

            def fused(xs: dict = xs, packed: list = packed, ws: list = ws) -> None:
                op = torch.ops.mkldnn._linear_pointwise
                for i, ((w, b), (raw, _)) in enumerate(zip(packed, ws)):
                    op(xs[raw.shape[1]], w, b, "gelu" if i == 4 else "none", [], "none" if i == 4 else "")

            out[f"onednn_{name}_gflops"] = round(flops / _seconds(fused, repeats) / 1e9, 1)
    out["bf16_over_fp32"] = round(out["linear_bf16_gflops"] / out["linear_fp32_gflops"], 2)
    if "onednn_bf16_gflops" in out:
        out["onednn_bf16_over_fp32"] = round(out["onednn_bf16_gflops"] / out["linear_fp32_gflops"], 2)
    out.update(int8_matmuls(tokens, shapes, repeats, out["linear_fp32_gflops"]))
    if "int8_gops" in out and "onednn_bf16_gflops" in out:
        out["int8_over_onednn_bf16"] = round(out["int8_gops"] / out["onednn_bf16_gflops"], 2)
    return out


def int8_matmuls(tokens: int, shapes: list[tuple[int, int]], repeats: int, fp32_gflops: float) -> dict[str, float]:
    """Giga-ops/s of the same products in int8 (int32 results), or nothing where torch lacks the kernel."""
    xs = {k: torch.randint(-127, 128, (tokens, k), dtype=torch.int8) for k in (384, 1536)}
    ws = [torch.randint(-127, 128, (k, n), dtype=torch.int8) for k, n in shapes]

    def products(xs: dict = xs, ws: list = ws) -> None:
        for w in ws:
            torch._int_mm(xs[w.shape[0]], w)

    try:
        seconds = _seconds(products, repeats)
    except (RuntimeError, NotImplementedError):  # no CPU int8 matmul in this torch build
        return {}
    gops = round(sum(2 * tokens * k * n for k, n in shapes) / seconds / 1e9, 1)
    return {"int8_gops": gops, "int8_over_fp32": round(gops / fp32_gflops, 2)}


def attention(rows: int, length: int, repeats: int) -> dict[str, float]:
    """GFLOP/s of attention over ``rows`` rows of ``length`` tokens, 12 heads of 32."""
    flops = 4 * rows * 12 * length * length * 32
    out: dict[str, float] = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        q, k, v = (torch.randn(rows, 12, length, 32, dtype=dtype) for _ in range(3))
        def sdpa(q: torch.Tensor = q, k: torch.Tensor = k, v: torch.Tensor = v) -> None:
            F.scaled_dot_product_attention(q, k, v)

        out[f"sdpa_{name}_gflops"] = round(flops / _seconds(sdpa, repeats) / 1e9, 1)

        def eager(q: torch.Tensor = q, k: torch.Tensor = k, v: torch.Tensor = v) -> None:
            torch.matmul(torch.softmax(torch.matmul(q, k.transpose(-1, -2)), dim=-1), v)

        out[f"eager_{name}_gflops"] = round(flops / _seconds(eager, repeats) / 1e9, 1)
        scores = torch.randn(rows, 12, length, length, dtype=dtype)
        out[f"softmax_{name}_ns_per_score"] = round(_seconds(lambda s=scores: torch.softmax(s, -1), repeats) / scores.numel() * 1e9, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=8192, help="rows of the matrix products (a batch's tokens)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    report = {"torch_threads": torch.get_num_threads(), "tokens": args.tokens, **matmuls(args.tokens, args.repeats)}
    report.update({f"attn256_{k}": v for k, v in attention(1, 256, args.repeats * 3).items()})
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
