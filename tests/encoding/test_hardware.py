"""dtype="auto": bf16 only where the CPU computes it natively."""

from __future__ import annotations

import pytest

from sbert_rag.config import DType
from sbert_rag.encoding import hardware


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"avx2", "avx512f"}, DType.FLOAT32),
        ({"avx512f", "avx512_bf16"}, DType.BFLOAT16),
        ({"amx_tile", "amx_bf16"}, DType.BFLOAT16),
        (set(), DType.FLOAT32),
    ],
)
def test_auto_dtype_on_cpu_follows_flags(monkeypatch: pytest.MonkeyPatch, flags: set[str], expected: DType) -> None:
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    assert hardware.auto_dtype("cpu") is expected
    assert hardware.auto_dtype("mps") is DType.FLOAT32


def test_auto_dtype_resolves_on_the_encoder(tiny_bert_dir) -> None:
    from sbert_rag import TextEncoder

    enc = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")
    assert enc.dtype is hardware.auto_dtype("cpu")
    assert enc.max_batch_tokens == hardware.default_batch_tokens("cpu", enc.dtype)


def test_cpu_batch_budget_follows_the_dtype() -> None:
    assert hardware.default_batch_tokens("cpu") == hardware.CPU_BATCH_TOKENS == 2048
    assert hardware.default_batch_tokens("cpu", DType.BFLOAT16) == hardware.CPU_BF16_BATCH_TOKENS
    assert hardware.default_batch_tokens("cuda:0", DType.BFLOAT16) == hardware.GPU_BATCH_TOKENS
