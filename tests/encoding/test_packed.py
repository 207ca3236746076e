"""The packed (padding-free) forward gives the Hugging Face forward's vectors, for every setting."""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from sbert_rag import TextEncoder
from sbert_rag.encoding.packed import PackedBert, PackedCache, pack_rows, padded_tokens, unsupported_reason
from sbert_rag.errors import ConfigError

# Lengths vary, and several texts share a length (runs of more than one row).
TEXTS = [
    "the cat sits",
    "the dog runs",
    "a big red car",
    "the bird eats fish in the tree",
    "hello world",
    "a small blue house with a green tree and a big dog that runs in the house",
    "query",
    "cat",
    "dog",
    "long text for the search model with a vector of the passage",
]


def _pair(folder: Path, **options: object) -> tuple[TextEncoder, TextEncoder]:
    """The same fp32 model twice: packed forward, and Hugging Face forward."""
    common = {"pooling": "mean", "normalize": True, "device": "cpu", "dtype": "float32", **options}
    return TextEncoder.from_pretrained(folder, packed=True, **common), TextEncoder.from_pretrained(folder, packed=False, **common)


def _build_roberta(folder: Path, tokenizer_dir: Path) -> Path:
    from transformers import AutoTokenizer, RobertaConfig, RobertaModel

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(1)
    config = RobertaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=64 + 2,
        pad_token_id=tok.pad_token_id,
        hidden_act="gelu_new",
        type_vocab_size=1,
    )
    RobertaModel(config).eval().save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_pack_rows_lays_rows_end_to_end_with_runs_of_equal_length() -> None:
    batch = pack_rows([[5, 6, 7], [8, 9, 10], [11, 12], [13]])
    assert batch.ids.tolist() == [5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert batch.positions.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 0]
    assert batch.runs == ((0, 2, 3), (6, 1, 2), (8, 1, 1))
    with pytest.raises(ValueError, match="no empty row"):
        pack_rows([[1], []])


def test_token_matrix_sizes_are_few_and_close() -> None:
    """oneDNN builds and keeps one kernel per shape: few sizes keep memory flat over many batches."""
    sizes = {padded_tokens(t) for t in range(1, 8193)}
    assert len(sizes) <= 128
    for t in (1, 15, 16, 17, 1000, 1023, 1024, 1025, 8191):
        assert t <= padded_tokens(t) <= t + (15 if t < 1024 else 127)


def test_packed_equals_hf_forward_on_a_batch_of_over_1024_tokens(tiny_bert_dir: Path) -> None:
    texts = [" ".join(["the big red house", "a small dog"][i % 2] for _ in range(3 + i % 7)) + f" {w}" for i, w in enumerate(TEXTS * 5)]
    packed, plain = _pair(tiny_bert_dir)
    assert sum(packed.count_tokens(texts)) > 1024
    np.testing.assert_allclose(packed.encode(texts), plain.encode(texts), atol=2e-6)


@pytest.mark.parametrize("pooling", ["mean", "cls", "max", "lasttoken", "weightedmean", ("mean", "max")])
def test_packed_equals_hf_forward_for_every_pooling(tiny_bert_dir: Path, pooling: object) -> None:
    packed, plain = _pair(tiny_bert_dir, pooling=pooling)
    assert packed.uses_packed() and not plain.uses_packed()
    a, b = packed.encode(TEXTS), plain.encode(TEXTS)
    # On x86 CPUs (CI included) the oneDNN kernels, not the plain-op fallback, were exercised.
    assert packed._packed_cache.current(packed.module.transformer).onednn == torch.backends.mkldnn.is_available()
    assert a.shape == b.shape == (len(TEXTS), plain.dim)
    np.testing.assert_allclose(a, b, atol=2e-6)


def test_packed_equals_hf_forward_with_prompts_windows_and_one_row_batches(tiny_bert_dir: Path) -> None:
    packed, plain = _pair(tiny_bert_dir, query_prompt="query ", max_tokens=12, overflow="windows", window_overlap_tokens=3)
    for kwargs in ({"role": "query"}, {"role": "passage"}, {"role": "query", "batch_size": 1}):
        a, b = packed.encode(TEXTS, **kwargs), plain.encode(TEXTS, **kwargs)
        np.testing.assert_allclose(a, b, atol=2e-6)
    assert packed.last_report.windowed == plain.last_report.windowed != {}


def test_packed_equals_hf_forward_for_roberta_positions(tiny_bert_dir: Path, tmp_path: Path) -> None:
    folder = _build_roberta(tmp_path / "roberta", tiny_bert_dir)
    packed, plain = _pair(folder)
    np.testing.assert_allclose(packed.encode(TEXTS), plain.encode(TEXTS), atol=2e-6)


def test_plain_torch_ops_path_equals_hf_forward(tiny_bert_dir: Path) -> None:
    """The path without oneDNN kernels (other devices, CPUs where oneDNN lacks the dtype)."""
    packed, plain = _pair(tiny_bert_dir)
    hf = plain.module.transformer
    rows = packed.tokens.ids(TEXTS, "")
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
    batch = pack_rows([rows[i] for i in order])
    ours = PackedBert(hf, onednn=False)(batch)
    width = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.int64)
    mask = torch.zeros_like(ids)
    for j, i in enumerate(order):
        ids[j, : len(rows[i])] = torch.tensor(rows[i])
        mask[j, : len(rows[i])] = 1
    with torch.inference_mode():
        ref = hf(input_ids=ids, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(ours, ref[mask.bool()], atol=2e-6, rtol=1e-5)


def test_bf16_packed_stays_close_to_fp32(tiny_bert_dir: Path) -> None:
    fp32 = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu", dtype="float32", packed=False)
    bf16 = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu", dtype="bfloat16")
    assert bf16.uses_packed()  # auto: on for bf16 on CPU
    cos = (fp32.encode(TEXTS) * bf16.encode(TEXTS)).sum(1)
    assert cos.min() > 0.999


def test_changed_weights_are_repacked(tiny_bert_dir: Path) -> None:
    packed, plain = _pair(tiny_bert_dir)
    before = packed.encode(TEXTS)
    for enc in (packed, plain):
        with torch.no_grad():
            enc.module.transformer.encoder.layer[0].intermediate.dense.weight.mul_(3.0)
    after = packed.encode(TEXTS)
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, plain.encode(TEXTS), atol=2e-6)


def test_training_mode_uses_the_hf_forward(tiny_bert_dir: Path) -> None:
    packed, _ = _pair(tiny_bert_dir)
    packed.module.train()
    assert not packed.uses_packed()
    packed.module.eval()
    assert packed.uses_packed()


def test_copies_and_threads_share_nothing_wrong(tiny_bert_dir: Path) -> None:
    packed, plain = _pair(tiny_bert_dir)
    expected = plain.encode(TEXTS)
    packed.encode(TEXTS[:2])  # the cache is filled before the copy
    twin = copy.deepcopy(packed)
    np.testing.assert_allclose(twin.encode(TEXTS), expected, atol=2e-6)
    results: list[np.ndarray] = []
    errors: list[Exception] = []

    def work() -> None:
        try:
            results.append(packed.encode(TEXTS))
        except Exception as err:  # noqa: BLE001 - any failure in a thread is reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    for r in results:
        np.testing.assert_allclose(r, expected, atol=2e-6)


def test_unsupported_architecture_is_named_or_falls_back(tiny_bert_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertModel

    folder = tmp_path / "distil"
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    config = DistilBertConfig(vocab_size=len(tok), dim=32, n_layers=1, n_heads=2, hidden_dim=64, max_position_embeddings=64)
    DistilBertModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    assert "distilbert" in unsupported_reason(DistilBertModel(config))
    with pytest.raises(ConfigError, match="model_type 'distilbert'.*packed=None or False"):
        TextEncoder.from_pretrained(folder, pooling="mean", device="cpu", dtype="bfloat16", packed=True)
    auto = TextEncoder.from_pretrained(folder, pooling="mean", device="cpu", dtype="bfloat16")
    assert not auto.uses_packed()
    assert auto.encode(["the cat"]).shape == (1, 32)
    with pytest.raises(ConfigError, match="packed='yes'"):
        TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", packed="yes")  # type: ignore[arg-type]


def test_cache_pickles_empty() -> None:
    import pickle

    assert isinstance(pickle.loads(pickle.dumps(PackedCache())), PackedCache)


@pytest.mark.parametrize("fused_from", [1, 10**9])
@pytest.mark.parametrize("fuse_act", [True, False])
def test_every_attention_and_activation_kernel_equals_hf_forward(
    tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch, fused_from: int, fuse_act: bool
) -> None:
    """Fused attention (long rows; the tiny model's rows are short, so the threshold is lowered)
    and matmul attention, GELU fused into the product or applied after it."""
    import sbert_rag.encoding.packed as packed_module

    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", lambda *a, **k: calls.append(1) or sdpa(*a, **k))
    monkeypatch.setattr(packed_module, "_FUSED_ATTENTION_MIN_LENGTH", fused_from)
    monkeypatch.setattr(packed_module, "fused_activation_pays", lambda: fuse_act)
    texts = [" ".join(["the big red house", "a small dog"][i % 2] for _ in range(1 + i % 9)) + f" {w}" for i, w in enumerate(TEXTS * 2)]
    packed, plain = _pair(tiny_bert_dir, query_prompt="query ")
    for role in ("query", "passage"):
        expected = plain.encode(texts, role=role)  # the Hugging Face forward calls sdpa too
        calls.clear()
        np.testing.assert_allclose(packed.encode(texts, role=role), expected, atol=2e-6)
        assert bool(calls) == (fused_from == 1)
    layer = packed._packed_cache.current(packed.module.transformer).layers[0]
    assert layer["up"].fuse_act is (fuse_act and layer["up"].onednn)
