"""What the hardware does fast: precision and batch budgets for ``dtype="auto"``.

Owns hardware detection only. bf16 pays on CPUs with native bf16 matrix instructions (Intel
AMX, AVX512-BF16 on Xeon and EPYC) and on GPUs that support it; elsewhere bf16 is emulated and
slower than fp32, so ``auto`` keeps fp32 there. Measured effects are in docs/speed.md.
"""

from __future__ import annotations

import functools
from pathlib import Path

from sbert_rag.config import DType

# Padded tokens per forward pass: big enough to keep the matrix units busy, small enough to
# bound activation memory (about 8192 x hidden x layers floats on CPU).
CPU_BATCH_TOKENS = 8192
GPU_BATCH_TOKENS = 65536


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """CPU feature flags from /proc/cpuinfo (empty where it does not exist, e.g. macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_fast_bf16() -> bool:
    """True when the CPU computes bf16 natively (AMX tiles or AVX512-BF16)."""
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def auto_dtype(device: str) -> DType:
    """Fastest precision that keeps cosine to fp32 >= 0.999 on this device."""
    import torch

    if device.startswith("cuda"):
        return DType.BFLOAT16 if torch.cuda.is_bf16_supported() else DType.FLOAT16
    if device == "cpu" and cpu_has_fast_bf16():
        return DType.BFLOAT16
    return DType.FLOAT32


def default_batch_tokens(device: str) -> int:
    """Padded-token budget per forward pass for a device."""
    return GPU_BATCH_TOKENS if device.startswith("cuda") else CPU_BATCH_TOKENS
