"""Packed (padding-free) BERT forward for CPU inference: the fast path of TextEncoder on CPU.

Owns an inference-only re-implementation of the BERT / RoBERTa / XLM-R encoder stack that runs
on the real tokens of a batch only. Every per-token operation (projections, feed-forward,
layer norms) works on one (tokens, hidden) matrix with no padding rows; attention runs per run of
equal-length rows, so it needs no mask and spends nothing on padded keys. On CPU the weights are
repacked once into oneDNN's blocked layout and GELU and the residual additions are fused into
the matrix products (``torch.ops.mkldnn._linear_pointwise``); elsewhere, or where oneDNN lacks
an op, plain torch ops compute the same thing.

Memory stays flat over any number of batches because the kernels see few distinct shapes: oneDNN
builds and caches one kernel per shape, so the token matrix is rounded up to a multiple of
16 or 128 rows (zero rows, dropped at the end), and attention, whose shapes follow the data, runs
in fp32 through torch's BLAS matmul, which caches nothing per shape (and keeps the scores in fp32).

It reads the Hugging Face model's weights and never changes them; when they change (training,
``load_state_dict``, a device move) :meth:`PackedCache.current` repacks. Results match the Hugging
Face forward to float rounding (tests/encoding/test_packed.py). Measured effect: docs/speed.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

# Position ids start at 0 for BERT; RoBERTa-style models count from padding_idx + 1.
_POSITION_OFFSET = {"bert": None, "roberta": "pad+1", "xlm-roberta": "pad+1", "camembert": "pad+1"}
# Hugging Face activation name -> (oneDNN post-op, its algorithm, torch's gelu approximation).
_ACTIVATIONS = {
    "gelu": ("gelu", "none", "none"),
    "gelu_new": ("gelu", "tanh", "tanh"),
    "gelu_pytorch_tanh": ("gelu", "tanh", "tanh"),
    "relu": ("relu", "", ""),
}
# Attention scores held at once (bytes): chunks of rows stay in the core's cache.
_SCORE_BUDGET = 4 << 20


def padded_tokens(tokens: int) -> int:
    """Rows of the token matrix for ``tokens`` real tokens: few distinct sizes, little waste."""
    granule = 16 if tokens < 1024 else 128
    return -(-tokens // granule) * granule


def unsupported_reason(hf_model: Any) -> str | None:
    """Why the packed forward cannot run this Hugging Face model, or None when it can."""
    config = getattr(hf_model, "config", None)
    kind = getattr(config, "model_type", None)
    if kind not in _POSITION_OFFSET:
        return f"model_type {kind!r} (supported: {', '.join(sorted(_POSITION_OFFSET))})"
    if getattr(config, "position_embedding_type", "absolute") not in (None, "absolute"):
        return f"position_embedding_type {config.position_embedding_type!r} (only 'absolute')"
    if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
        return "a decoder configuration"
    act = getattr(config, "hidden_act", None)
    if not isinstance(act, str) or act not in _ACTIVATIONS:
        return f"hidden_act {act!r} (supported: {', '.join(sorted(_ACTIVATIONS))})"
    if config.hidden_size % config.num_attention_heads:
        return "hidden_size not divisible by num_attention_heads"
    return None


@dataclass(frozen=True)
class PackedRows:
    """Rows of one batch laid end to end.

    Attributes:
        ids: token ids of every row, concatenated, int64 (tokens,).
        positions: position of each token inside its row, int64 (tokens,).
        runs: (first token, rows, length) of each run of consecutive equal-length rows.
    """

    ids: torch.Tensor
    positions: torch.Tensor
    runs: tuple[tuple[int, int, int], ...]


def pack_rows(rows: Sequence[Sequence[int]]) -> PackedRows:
    """Concatenate token id rows and find their runs of equal length (batches come length-sorted)."""
    lengths = [len(r) for r in rows]
    if not lengths or min(lengths) < 1:
        raise ValueError("pack_rows needs at least one row and no empty row")
    runs: list[tuple[int, int, int]] = []
    start = 0
    i = 0
    while i < len(lengths):
        j = i
        while j < len(lengths) and lengths[j] == lengths[i]:
            j += 1
        runs.append((start, j - i, lengths[i]))
        start += (j - i) * lengths[i]
        i = j
    ids = np.fromiter((t for r in rows for t in r), dtype=np.int64, count=start)
    positions = np.concatenate([np.arange(n, dtype=np.int64) for n in lengths])
    return PackedRows(torch.from_numpy(ids), torch.from_numpy(positions), tuple(runs))


class _Projection:
    """One linear layer with an optional fused activation and residual addition."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, onednn: bool, rows_hint: int) -> None:
        self.bias = bias
        self.onednn = onednn
        self.weight = torch.ops.mkldnn._reorder_linear_weight(weight, rows_hint) if onednn else weight

    def __call__(self, x: torch.Tensor, act: tuple[str, str, str] | None = None, residual: torch.Tensor | None = None) -> torch.Tensor:
        if self.onednn:
            op = torch.ops.mkldnn._linear_pointwise
            if residual is not None:
                return op.binary(x, residual, self.weight, self.bias, "add")
            if act is not None:
                return op(x, self.weight, self.bias, act[0], [], act[1])
            return op(x, self.weight, self.bias, "none", [], "")
        y = F.linear(x, self.weight, self.bias)
        if residual is not None:
            return y.add_(residual)
        if act is not None:
            return F.relu(y) if act[0] == "relu" else F.gelu(y, approximate=act[2])
        return y


class PackedBert:
    """Inference-only BERT-family encoder over packed rows (no padding anywhere).

    Build it with :meth:`build` (or :meth:`PackedCache.current`, which rebuilds when the weights changed).
    Calling it with :class:`PackedRows` returns the last hidden state of every real token,
    (tokens, hidden), in the model's dtype.
    """

    def __init__(self, hf_model: Any, onednn: bool, rows_hint: int = 4096) -> None:
        config = hf_model.config
        state = {k: v.detach() for k, v in hf_model.state_dict().items()}
        prefix = "" if "embeddings.word_embeddings.weight" in state else f"{hf_model.base_model_prefix}."
        get = lambda key: state[prefix + key].contiguous()
        self.heads = int(config.num_attention_heads)
        self.head_dim = int(config.hidden_size) // self.heads
        self.eps = float(config.layer_norm_eps)
        self.act = _ACTIVATIONS[config.hidden_act]
        self.onednn = onednn
        pad = int(getattr(config, "pad_token_id", 0) or 0)
        self.position_offset = pad + 1 if _POSITION_OFFSET[config.model_type] else 0
        self.word = get("embeddings.word_embeddings.weight")
        self.position = get("embeddings.position_embeddings.weight")
        self.token_type = get("embeddings.token_type_embeddings.weight")[0] if prefix + "embeddings.token_type_embeddings.weight" in state else None
        self.embed_norm = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        scale = self.head_dim**-0.5
        proj = lambda w, b: _Projection(w.contiguous(), b.contiguous(), onednn, rows_hint)
        self.layers = []
        for i in range(int(config.num_hidden_layers)):
            p = f"encoder.layer.{i}."
            # The 1/sqrt(head_dim) score scale is folded into the query projection (computed in
            # fp32, rounded once), so attention needs no extra pass over the scores.
            wq = (get(p + "attention.self.query.weight").float() * scale).to(self.word.dtype)
            bq = (get(p + "attention.self.query.bias").float() * scale).to(self.word.dtype)
            self.layers.append(
                {
                    "q": proj(wq, bq),
                    "k": proj(get(p + "attention.self.key.weight"), get(p + "attention.self.key.bias")),
                    "v": proj(get(p + "attention.self.value.weight"), get(p + "attention.self.value.bias")),
                    "o": proj(get(p + "attention.output.dense.weight"), get(p + "attention.output.dense.bias")),
                    "norm1": (get(p + "attention.output.LayerNorm.weight"), get(p + "attention.output.LayerNorm.bias")),
                    "up": proj(get(p + "intermediate.dense.weight"), get(p + "intermediate.dense.bias")),
                    "down": proj(get(p + "output.dense.weight"), get(p + "output.dense.bias")),
                    "norm2": (get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias")),
                }
            )

    @classmethod
    def build(cls, hf_model: Any) -> PackedBert:
        """Pack ``hf_model``'s weights; oneDNN kernels on CPU when they run here, plain torch otherwise.

        Raises:
            ValueError: the model is not one the packed forward supports (the message says why).
        """
        reason = unsupported_reason(hf_model)
        if reason is not None:
            raise ValueError(f"the packed forward does not support {reason}")
        param = next(hf_model.parameters())
        onednn = param.device.type == "cpu" and torch.backends.mkldnn.is_available()
        if onednn:
            try:  # one two-token row through every layer: oneDNN may lack this dtype on this CPU
                packed = cls(hf_model, onednn=True)
                packed(pack_rows([[0, 0]]))
                return packed
            except RuntimeError as err:
                logger.info("oneDNN kernels unavailable for %s (%s); packed forward uses plain torch ops", param.dtype, err)
        return cls(hf_model, onednn=False)

    def __call__(self, batch: PackedRows) -> torch.Tensor:
        device = self.word.device
        ids = batch.ids.to(device)
        positions = batch.positions.to(device)
        hidden = self.word.shape[1]
        x = self.word[ids] + self.position[positions + self.position_offset]
        if self.token_type is not None:
            x += self.token_type
        x = F.layer_norm(x, (hidden,), *self.embed_norm, self.eps)
        real = x.shape[0]
        rows = padded_tokens(real)
        if rows > real:  # zero rows: every op below is row-wise except attention, which skips them
            x = torch.cat([x, x.new_zeros(rows - real, hidden)])
        for layer in self.layers:
            q, k, v = layer["q"](x), layer["k"](x), layer["v"](x)
            context = torch.zeros_like(q) if rows > real else torch.empty_like(q)
            for start, count, length in batch.runs:
                end = start + count * length
                self._attend(q[start:end], k[start:end], v[start:end], context[start:end], count, length)
            x = F.layer_norm(layer["o"](context, residual=x), (hidden,), *layer["norm1"], self.eps)
            inner = layer["up"](x, act=self.act)
            x = F.layer_norm(layer["down"](inner, residual=x), (hidden,), *layer["norm2"], self.eps)
        return x[:real]

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor, count: int, length: int) -> None:
        """Unmasked attention of ``count`` rows of ``length`` tokens, written into ``out``."""
        h, d = self.heads, self.head_dim
        # Rows per chunk: the (rows, heads, length, length) fp32 scores of a chunk fit the budget.
        step = max(1, _SCORE_BUDGET // (h * length * length * 4))
        for first in range(0, count, step):
            n = min(step, count - first)
            span = slice(first * length, (first + n) * length)
            qh, kh, vh = (t[span].view(n, length, h, d).transpose(1, 2).float() for t in (q, k, v))
            scores = torch.matmul(qh, kh.transpose(-1, -2))  # (n, h, length, length), already scaled
            ctx = torch.matmul(torch.softmax(scores, dim=-1), vh)  # (n, h, length, d)
            out[span].view(n, length, h, d).copy_(ctx.transpose(1, 2))


def _fingerprint(hf_model: Any) -> tuple[tuple[int, int], ...]:
    """Identity and in-place version of every parameter: changes whenever a weight does."""
    return tuple((p.data_ptr(), p._version) for p in hf_model.parameters())


class PackedCache:
    """The packed copy of one model's weights, rebuilt when those weights change. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._packed: PackedBert | None = None
        self._key: tuple[tuple[int, int], ...] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> PackedCache:
        return PackedCache()  # a copied encoder packs its own (copied) weights on first use

    def __reduce__(self) -> tuple[type[PackedCache], tuple[()]]:
        return (PackedCache, ())

    def current(self, hf_model: Any) -> PackedBert:
        """The packed forward for ``hf_model``'s present weights."""
        key = _fingerprint(hf_model)
        with self._lock:
            if self._packed is None or key != self._key:
                self._packed = PackedBert.build(hf_model)
                self._key = key
            return self._packed
