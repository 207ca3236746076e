"""dtype="int8": the packed forward with int8 matrix products (dynamic quantisation), CPU only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sbert_rag import EncoderConfig, TextEncoder
from sbert_rag.errors import ConfigError

TEXTS = [("the big red house " * (1 + i % 6)).strip() + f" number {i}" for i in range(24)]


def _pair(folder, **options):
    common = {"pooling": "mean", "device": "cpu", **options}
    return TextEncoder.from_pretrained(folder, dtype="float32", **common), TextEncoder.from_pretrained(folder, dtype="int8", **common)


def test_int8_runs_quantised_products_close_to_float32(tiny_bert_dir) -> None:
    fp32, int8 = _pair(tiny_bert_dir)
    assert int8.forward_path == "packed" and int8.uses_packed()
    a, b = fp32.encode(TEXTS), int8.encode(TEXTS)
    cos = (a * b).sum(1)
    assert cos.min() > 0.99  # close, and not equal: the products really ran in int8
    assert np.abs(a - b).max() > 1e-4
    packed = int8._packed_cache.current(int8.module.transformer, int8=True)
    assert all(layer[name].int8 is not None for layer in packed.layers for name in ("q", "k", "v", "o", "up", "down"))


def test_int8_vectors_do_not_depend_on_batching_or_streams(tiny_bert_dir) -> None:
    _, int8 = _pair(tiny_bert_dir, batch_size=3)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        streamed = int8.encode(TEXTS)
        int8.cpu_streams = 1
        one_by_one = np.stack([int8.encode([t])[0] for t in TEXTS[:6]])
        np.testing.assert_allclose(int8.encode(TEXTS), streamed, atol=1e-6)
    finally:
        torch.set_num_threads(before)
    # one text alone: its activation range differs from the batch's, so only close, not equal
    assert ((one_by_one * streamed[:6]).sum(1)).min() > 0.995


def test_int8_reaches_every_front_end_through_the_config(tiny_bert_dir) -> None:
    config = EncoderConfig(model=str(tiny_bert_dir), pooling=("mean",), dtype="int8", device="cpu")
    enc = TextEncoder.from_config(config)
    assert enc.dtype.value == "int8" and enc.config.dtype == "int8"
    assert TextEncoder.from_config(enc.config).encode(TEXTS[:3]).shape == (3, enc.dim)


def test_int8_refusals_name_the_fix(tiny_bert_dir, monkeypatch: pytest.MonkeyPatch) -> None:
    from sbert_rag.encoding import packed as packed_module
    from sbert_rag.encoding.text_encoder import _check_int8

    with pytest.raises(ConfigError, match="needs the packed forward"):
        TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu", dtype="int8", packed=False)
    with pytest.raises(ConfigError, match="CPU only.*'cuda:0'"):
        _check_int8("cuda:0", None)
    monkeypatch.setattr(packed_module, "unsupported_reason", lambda model: "model_type 'distilbert'")
    with pytest.raises(ConfigError, match="does not support model_type 'distilbert'; use dtype='float32'"):
        TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu", dtype="int8")


def test_clip_refuses_text_only_dtypes() -> None:
    from sbert_rag.image import CLIPConfig, CLIPEncoder

    with pytest.raises(ConfigError, match="'int8' is for text encoders"):
        CLIPEncoder.from_config(CLIPConfig.small(), seed=0, device="cpu", dtype="int8")


def test_fixed_input_range_quantises_scaled_rows_as_the_dynamic_product_does() -> None:
    from sbert_rag.encoding.packed import _Projection, row_scaled

    torch.manual_seed(0)
    weight, bias = torch.randn(48, 32) * 0.1, torch.randn(48)
    proj = _Projection(weight, bias, onednn=False, rows_hint=64, int8=True)
    x = torch.nn.functional.layer_norm(torch.randn(64, 32) * 3, (32,))
    fixed = proj(x, scaled=row_scaled(x))  # the fixed [-1, 1] range
    found = proj(x.clone())  # the product finds the range of the scaled rows: here also [-1, 1]
    torch.testing.assert_close(fixed, found, rtol=0, atol=0)
    torch.testing.assert_close(fixed, x @ weight.T + bias, rtol=0, atol=0.05)
    lopsided = torch.nn.functional.gelu(x)
    spent = lopsided.clone()
    y = proj(spent, spent=True)  # scaled in place: the caller's tensor is overwritten
    assert not torch.equal(spent, lopsided)
    torch.testing.assert_close(y, lopsided @ weight.T + bias, rtol=0, atol=0.05)
