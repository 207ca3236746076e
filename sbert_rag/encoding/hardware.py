"""What the hardware does fast: precision and batch budgets for ``dtype="auto"``.

Owns hardware detection only. bf16 pays on CPUs with native bf16 matrix instructions (Intel
AMX, AVX512-BF16 on Xeon and EPYC) and on GPUs that support it; elsewhere bf16 is emulated and
slower than fp32, so ``auto`` keeps fp32 there. Measured effects are in docs/speed.md. Whether a
GPU can be here at all is told from the operating system (:func:`may_have_gpu`), so that
``device="auto"`` on a machine without one resolves to the CPU without importing torch.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from sbert_rag.config import DType

# Padded tokens per forward pass: big enough to keep the matrix units busy, small enough to
# bound activation memory. On CPU in fp32 a batch's widest activation (2048 x the feed-forward
# width) stays in the cache, measured faster than 8192 (SciFact passages, 2-core AMD EPYC with
# AVX2: 15 % with CPU streams); in bf16 (CPUs with native bf16) activations are half the size,
# and 8192 was measured best there.
CPU_BATCH_TOKENS = 2048
CPU_BF16_BATCH_TOKENS = 8192
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


# Device nodes of the GPU drivers torch.cuda runs on: NVIDIA (also in containers given a GPU),
# AMD ROCm, and the GPU of WSL 2.
_GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def may_have_gpu() -> bool:
    """False only where torch can find no GPU: Linux with no NVIDIA, ROCm or WSL GPU device node.

    True on macOS (MPS) and Windows, where only torch can tell; a True here is then settled by
    ``torch.cuda.is_available()`` and its MPS twin.
    """
    if not sys.platform.startswith("linux"):
        return True
    return any(Path(p).exists() for p in _GPU_DEVICE_FILES)


def auto_dtype(device: str) -> DType:
    """Fastest precision that keeps cosine to fp32 >= 0.999 on this device."""
    if device.startswith("cuda"):
        import torch

        return DType.BFLOAT16 if torch.cuda.is_bf16_supported() else DType.FLOAT16
    if device == "cpu" and cpu_has_fast_bf16():
        return DType.BFLOAT16
    return DType.FLOAT32


def default_batch_tokens(device: str, dtype: DType = DType.FLOAT32) -> int:
    """Padded-token budget per forward pass for a device and compute dtype."""
    if device.startswith("cuda"):
        return GPU_BATCH_TOKENS
    return CPU_BF16_BATCH_TOKENS if dtype is DType.BFLOAT16 else CPU_BATCH_TOKENS
