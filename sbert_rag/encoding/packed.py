"""Packed (padding-free) BERT forward for CPU inference: the fast path of TextEncoder on CPU.

Owns an inference-only re-implementation of the BERT / RoBERTa / XLM-R encoder stack that runs
on the real tokens of a batch only. Every per-token operation (projections, feed-forward,
layer norms) works on one (tokens, hidden) matrix with no padding rows; attention runs per run of
equal-length rows, so it needs no mask and spends nothing on padded keys. On CPU the weights are
repacked once into oneDNN's blocked layout and the residual additions (and, on CPUs with
AVX-512, GELU) are fused into the matrix products (``torch.ops.mkldnn._linear_pointwise``);
elsewhere, or where oneDNN lacks an op, plain torch ops compute the same thing.

Memory stays flat over any number of batches because the kernels see few distinct shapes: oneDNN
builds and caches one kernel per shape, so the token matrix is rounded up to a multiple of
16 or 128 rows (zero rows, dropped at the end), and attention, whose shapes follow the data, runs
in fp32 through torch's BLAS matmul or, for rows of 128 tokens or more of an fp32 model, its
fused ``scaled_dot_product_attention`` (softmax without a pass over stored scores); neither caches
anything per shape, and both keep the scores in fp32.

It reads the Hugging Face model's weights and never changes them; when they change (training,
``load_state_dict``, a device move) :meth:`PackedCache.current` repacks. Results match the Hugging
Face forward to float rounding (tests/encoding/test_packed.py). Measured effect: docs/speed.md.

:class:`NumpyBert` is the same forward in numpy (fp32, CPU), over weights mapped straight from a
``model.safetensors`` file: a process that embeds one query (``sbert-rag search``) then imports
neither torch nor transformers, which cost seconds, and :class:`TorchFreeModel` hands larger calls
to the torch module, loaded on first need. Importing this module loads no torch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sbert_rag.config import PoolingMode

if TYPE_CHECKING:
    import torch

    from sbert_rag.encoding.module import SentenceModule
    from sbert_rag.encoding.tokenize import TokenRows

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
# Rows at least this long attend through torch's fused scaled_dot_product_attention in fp32 (and
# int8) models: measured on SciFact passages (256 tokens, AVX2) 10 % faster than matmul + softmax
# + matmul; slower on short rows. bf16 models keep the path measured for them (docs/speed.md).
_FUSED_ATTENTION_MIN_LENGTH = 128


def fused_activation_pays() -> bool:
    """Whether oneDNN's GELU post-op beats a separate in-place GELU: with AVX-512 (measured in
    the bf16 runs of docs/speed.md); on AVX2 CPUs the post-op is slower than the two passes
    (2-core AMD EPYC, fp32: up-projection 26.6 ms fused against 20.0 + 3.0 ms apart)."""
    import torch

    return torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def padded_tokens(tokens: int) -> int:
    """Rows of the token matrix for ``tokens`` real tokens: few distinct sizes, little waste."""
    granule = 16 if tokens < 1024 else 128
    return -(-tokens // granule) * granule


def unsupported_reason(hf_model: Any) -> str | None:
    """Why the packed forward cannot run this Hugging Face model, or None when it can."""
    return unsupported_config_reason(getattr(hf_model, "config", None))


def unsupported_config_reason(config: Any) -> str | None:
    """Why the packed forward cannot run a model of this config (attributes as a transformers config)."""
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
    import torch

    ids, positions, runs = _pack(rows)
    return PackedRows(torch.from_numpy(ids), torch.from_numpy(positions), runs)


def _pack(rows: Sequence[Sequence[int]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], tuple[tuple[int, int, int], ...]]:
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
    return ids, positions, tuple(runs)


class _Projection:
    """One linear layer with an optional fused activation and residual addition."""

    def __init__(
        self, weight: torch.Tensor, bias: torch.Tensor, onednn: bool, rows_hint: int, fuse_act: bool = True, int8: bool = False
    ) -> None:
        import torch

        self.bias = bias
        self.onednn = onednn and not int8
        self.fuse_act = fuse_act
        self.int8 = _quantize(weight) if int8 else None
        self.weight = torch.ops.mkldnn._reorder_linear_weight(weight, rows_hint) if self.onednn else weight

    def __call__(
        self, x: torch.Tensor, act: tuple[str, str, str] | None = None, residual: torch.Tensor | None = None,
        scaled: tuple[torch.Tensor, torch.Tensor] | None = None, spent: bool = False,
    ) -> torch.Tensor:
        """``x @ weight.T + bias``, then ``residual`` added or ``act`` applied.

        int8 only: ``scaled`` is ``row_scaled(x)``, passed for layer-norm outputs, whose scaled
        rows together span [-1, 1]: quantised with that fixed range, with no pass to find it
        (shared by the projections of one ``x``). Without it the product finds the range of the
        scaled rows itself, tighter for attention and activation outputs, which lean to one sign
        (measured on SciFact: GELU outputs span [-0.04, 1] to [-0.34, 1]). ``spent``: the caller
        no longer needs ``x``, so it is scaled in place.
        """
        import torch
        import torch.nn.functional as F

        if self.int8 is not None:  # int8 product, float32 out
            if scaled is not None:
                xs, scale = scaled
                y = torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32(xs, _INT8_INPUT_SCALE, _INT8_INPUT_ZERO, self.int8)
            else:
                xs, scale = row_scaled(x, in_place=spent)
                y = torch.ops.quantized.linear_dynamic(xs, self.int8, True)
            y = torch.addcmul(self.bias, y, scale, out=y)
        elif self.onednn:
            op = torch.ops.mkldnn._linear_pointwise
            if residual is not None:
                return op.binary(x, residual, self.weight, self.bias, "add")
            if act is not None and self.fuse_act:
                return op(x, self.weight, self.bias, act[0], [], act[1])
            y = op(x, self.weight, self.bias, "none", [], "")
        else:
            y = F.linear(x, self.weight, self.bias)
        if residual is not None:
            return y.add_(residual)
        if act is None:
            return y
        return y.relu_() if act[0] == "relu" else torch.ops.aten.gelu_(y, approximate=act[2])


# The fixed range [-1, 1] of scaled layer-norm outputs as 7-bit unsigned values, as fbgemm's dynamic
# product (``reduce_range``) would quantise it: keeps AVX2's 16-bit intermediate sums from
# saturating, and spares the product a pass over its input (1.2x faster on 384 columns).
_INT8_INPUT_SCALE, _INT8_INPUT_ZERO = 2 / 127, 64


def row_scaled(x: torch.Tensor, in_place: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` with each row scaled to max |x| = 1 (``in_place``: ``x`` itself), and the scales
    (rows, 1), for an int8 product.

    The product quantises its whole input with one range, which then fits every token rather than
    the batch's largest (per-token ranges); the scales multiply the product's rows after. The
    largest |x| comes from the row maxima and minima: ``x.abs()`` would allocate a full copy.
    """
    import torch

    scale = torch.maximum(x.amax(dim=1, keepdim=True), x.amin(dim=1, keepdim=True).neg_()).clamp_min_(1e-12)
    return (x.div_(scale) if in_place else x / scale), scale


def _quantize(weight: torch.Tensor) -> Any:
    """fbgemm's packed int8 weight (symmetric, one scale per output row) for an int8 product whose
    input is quantised with ``_INT8_INPUT_SCALE`` and ``_INT8_INPUT_ZERO``."""
    import warnings

    import torch

    weight = weight.float()
    scales = (weight.abs().amax(dim=1) / 127).clamp_min(1e-12).double()
    with warnings.catch_warnings():  # torch marks quantized tensors deprecated; fbgemm still takes them
        warnings.simplefilter("ignore", UserWarning)
        q = torch.quantize_per_channel(weight, scales, torch.zeros_like(scales, dtype=torch.long), 0, torch.qint8)
        return torch.ops.quantized.linear_prepack(q, None)  # the bias is added after the row scales


class PackedBert:
    """Inference-only BERT-family encoder over packed rows (no padding anywhere).

    Build it with :meth:`build` (or :meth:`PackedCache.current`, which rebuilds when the weights changed).
    Calling it with :class:`PackedRows` returns the last hidden state of every real token,
    (tokens, hidden), in the model's dtype.
    """

    def __init__(self, hf_model: Any, onednn: bool, rows_hint: int = 4096, int8: bool = False) -> None:
        config = hf_model.config
        state = {k: v.detach() for k, v in hf_model.state_dict().items()}
        prefix = "" if "embeddings.word_embeddings.weight" in state else f"{hf_model.base_model_prefix}."

        def get(key: str) -> torch.Tensor:
            return state[prefix + key].contiguous()

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

        fuse_act = onednn and fused_activation_pays()
        self.int8 = int8

        def proj(w: torch.Tensor, b: torch.Tensor) -> _Projection:
            return _Projection(w.contiguous(), b.contiguous(), onednn, rows_hint, fuse_act, int8)

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
    def build(cls, hf_model: Any, int8: bool = False) -> PackedBert:
        """Pack ``hf_model``'s weights; oneDNN kernels on CPU when they run here, plain torch otherwise.

        ``int8``: the matrix products run in int8 (dynamic quantisation: weights per output row,
        activations per token, ranges taken at run time), everything else in float32; CPU only.

        Raises:
            ValueError: the model is not one the packed forward supports (the message says why).
        """
        import torch

        reason = unsupported_reason(hf_model)
        if reason is not None:
            raise ValueError(f"the packed forward does not support {reason}")
        param = next(hf_model.parameters())
        onednn = param.device.type == "cpu" and torch.backends.mkldnn.is_available()
        if onednn:
            try:  # one two-token row through every layer: oneDNN may lack this dtype on this CPU
                packed = cls(hf_model, onednn=True, int8=int8)
                packed(pack_rows([[0, 0]]))
                return packed
            except RuntimeError as err:
                logger.info("oneDNN kernels unavailable for %s (%s); packed forward uses plain torch ops", param.dtype, err)
        return cls(hf_model, onednn=False, int8=int8)

    def __call__(self, batch: PackedRows) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

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
            scaled = row_scaled(x) if self.int8 else None  # one pass for the three int8 products
            q, k, v = (layer[name](x, scaled=scaled) for name in ("q", "k", "v"))
            context = torch.zeros_like(q) if rows > real else torch.empty_like(q)
            for start, count, length in batch.runs:
                end = start + count * length
                self._attend(q[start:end], k[start:end], v[start:end], context[start:end], count, length)
            x = F.layer_norm(layer["o"](context, residual=x, spent=True), (hidden,), *layer["norm1"], self.eps)
            inner = layer["up"](x, act=self.act, scaled=row_scaled(x) if self.int8 else None)
            x = F.layer_norm(layer["down"](inner, residual=x, spent=True), (hidden,), *layer["norm2"], self.eps)
        return x[:real]

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor, count: int, length: int) -> None:
        """Unmasked attention of ``count`` rows of ``length`` tokens, written into ``out``."""
        import torch

        h, d = self.heads, self.head_dim
        # Rows per chunk: the (rows, heads, length, length) fp32 scores of a chunk fit the budget.
        step = max(1, _SCORE_BUDGET // (h * length * length * 4))
        for first in range(0, count, step):
            n = min(step, count - first)
            span = slice(first * length, (first + n) * length)
            qh, kh, vh = (t[span].view(n, length, h, d).transpose(1, 2).float() for t in (q, k, v))
            if length >= _FUSED_ATTENTION_MIN_LENGTH and q.dtype == torch.float32:
                ctx = torch.nn.functional.scaled_dot_product_attention(qh, kh, vh, scale=1.0)  # already scaled
                out[span].view(n, length, h, d).copy_(ctx.transpose(1, 2))
                continue
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
        self._key: tuple[tuple[tuple[int, int], ...], bool] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> PackedCache:
        return PackedCache()  # a copied encoder packs its own (copied) weights on first use

    def __reduce__(self) -> tuple[type[PackedCache], tuple[()]]:
        return (PackedCache, ())

    def current(self, hf_model: Any, int8: bool = False) -> PackedBert:
        """The packed forward for ``hf_model``'s present weights (int8 products with ``int8``)."""
        key = (_fingerprint(hf_model), int8)
        with self._lock:
            if self._packed is None or key != self._key:
                self._packed = PackedBert.build(hf_model, int8=int8)
                self._key = key
            return self._packed


# ---------------------------------------------------------------- the numpy twin (no torch)

NUMPY_MAX_TOKENS = 256
"""Most real tokens in one encode call that :class:`TorchFreeModel` runs in numpy: a query at the
default model's full length, or a few short ones. Larger calls load the torch module, whose oneDNN
kernels win on throughput."""

# OpenBLAS (numpy's BLAS in its Linux wheels) runs a matrix product of at most 2**18 multiply-adds
# on the calling thread and wakes its thread pool for larger ones. For a query's few rows the
# wake-up costs more than the product, and on a busy machine much more (measured on 2 busy cores:
# 40-60 ms per product, against 0.1-4 ms in blocks of columns), so a small product goes in blocks.
_ONE_THREAD_MACS = 1 << 18
_MAX_BLOCKS = 64


def _linear(x: npt.NDArray[np.float32], weight: npt.NDArray[np.float32], bias: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``x @ weight.T + bias`` for x (rows, in) and weight (out, in)."""
    per_block = _ONE_THREAD_MACS // (x.shape[0] * x.shape[1])
    out_features = weight.shape[0]
    if per_block < 1 or per_block >= out_features or -(-out_features // per_block) > _MAX_BLOCKS:
        return x @ weight.T + bias
    parts = [x @ weight[i : i + per_block].T for i in range(0, out_features, per_block)]
    return np.concatenate(parts, axis=1) + bias


def _layer_norm(x: npt.NDArray[np.float32], weight: npt.NDArray[np.float32], bias: npt.NDArray[np.float32], eps: float) -> npt.NDArray[np.float32]:
    centered = x - x.mean(axis=-1, keepdims=True)
    variance = np.mean(centered * centered, axis=-1, keepdims=True)
    return centered / np.sqrt(variance + np.float32(eps)) * weight + bias


def _erfc(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Complementary error function with relative error below 1.2e-7 (Numerical Recipes' erfcc,
    a Chebyshev fit): one fp32 rounding, as torch's own erf has."""
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (
        0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    tail = t * np.exp(-a * a + poly)
    return np.where(z >= 0, tail, 2.0 - tail)


def _activate(x: npt.NDArray[np.float32], act: tuple[str, str, str]) -> npt.NDArray[np.float32]:
    if act[0] == "relu":
        return np.maximum(x, np.float32(0))
    if act[2] == "tanh":  # gelu_new, gelu_pytorch_tanh
        inner = np.float32(0.7978845608028654) * (x + np.float32(0.044715) * x * x * x)
        return np.float32(0.5) * x * (np.float32(1) + np.tanh(inner))
    wide = x.astype(np.float64)
    return (0.5 * wide * _erfc(wide * -0.7071067811865476)).astype(np.float32)  # x * Phi(x)


class NumpyBert:
    """The packed BERT forward in numpy: fp32, CPU, no torch; the same vectors as :class:`PackedBert`
    to float rounding.

    Args:
        config: the model's ``config.json``, transformers' defaults for absent keys filled in.
        weights: tensor name -> array, as in the Hugging Face model's state dict (prefix ``bert.``
            allowed); arrays mapped from the file are read lazily by the OS, never copied whole.
    """

    def __init__(self, config: Mapping[str, Any], weights: Mapping[str, npt.NDArray[np.float32]]) -> None:
        prefix = "" if "embeddings.word_embeddings.weight" in weights else "bert."

        def get(key: str) -> npt.NDArray[np.float32]:
            return weights[prefix + key]

        self.heads = int(config["num_attention_heads"])
        self.head_dim = int(config["hidden_size"]) // self.heads
        self.hidden_size = int(config["hidden_size"])
        self.eps = float(config["layer_norm_eps"])
        self.act = _ACTIVATIONS[config["hidden_act"]]
        pad = int(config.get("pad_token_id") or 0)
        self.position_offset = pad + 1 if _POSITION_OFFSET[config["model_type"]] else 0
        self.word = get("embeddings.word_embeddings.weight")
        self.position = get("embeddings.position_embeddings.weight")
        token_type = prefix + "embeddings.token_type_embeddings.weight"
        self.token_type = weights[token_type][0] if token_type in weights else None
        self.embed_norm = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        scale = np.float32(self.head_dim**-0.5)  # folded into the query projection, as PackedBert does
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            self.layers.append({
                "q": (get(p + "attention.self.query.weight") * scale, get(p + "attention.self.query.bias") * scale),
                "k": (get(p + "attention.self.key.weight"), get(p + "attention.self.key.bias")),
                "v": (get(p + "attention.self.value.weight"), get(p + "attention.self.value.bias")),
                "o": (get(p + "attention.output.dense.weight"), get(p + "attention.output.dense.bias")),
                "norm1": (get(p + "attention.output.LayerNorm.weight"), get(p + "attention.output.LayerNorm.bias")),
                "up": (get(p + "intermediate.dense.weight"), get(p + "intermediate.dense.bias")),
                "down": (get(p + "output.dense.weight"), get(p + "output.dense.bias")),
                "norm2": (get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias")),
            })

    def __call__(
        self, ids: npt.NDArray[np.int64], positions: npt.NDArray[np.int64], runs: Sequence[tuple[int, int, int]]
    ) -> npt.NDArray[np.float32]:
        """Last hidden state of every token, float32 (tokens, hidden), for packed rows (see ``_pack``)."""
        x = self.word[ids] + self.position[positions + self.position_offset]  # (tokens, hidden)
        if self.token_type is not None:
            x += self.token_type
        x = _layer_norm(x, *self.embed_norm, self.eps)
        h, d = self.heads, self.head_dim
        for layer in self.layers:
            q, k, v = _linear(x, *layer["q"]), _linear(x, *layer["k"]), _linear(x, *layer["v"])
            context = np.empty_like(q)
            for start, count, length in runs:
                span = slice(start, start + count * length)
                qh, kh, vh = (t[span].reshape(count, length, h, d).transpose(0, 2, 1, 3) for t in (q, k, v))
                scores = qh @ kh.transpose(0, 1, 3, 2)  # (count, h, length, length), already scaled
                scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
                scores /= scores.sum(axis=-1, keepdims=True)
                context[span] = (scores @ vh).transpose(0, 2, 1, 3).reshape(count * length, h * d)
            x = _layer_norm(_linear(context, *layer["o"]) + x, *layer["norm1"], self.eps)
            inner = _activate(_linear(x, *layer["up"]), self.act)
            x = _layer_norm(_linear(inner, *layer["down"]) + x, *layer["norm2"], self.eps)
        return x


def pool_runs(
    hidden: npt.NDArray[np.float32], runs: Sequence[tuple[int, int, int]], modes: Sequence[PoolingMode], skip: int = 0
) -> npt.NDArray[np.float32]:
    """``pooling.pool`` in numpy over packed token vectors (tokens, hidden) -> (rows, hidden * len(modes)).

    Rows hold no padding, so the mask is all ones; ``skip`` leading tokens of each row (a prompt)
    are left out of the pooling, as ``pool``'s ``exclude_first``.
    """
    parts = []
    for start, count, length in runs:
        block = hidden[start : start + count * length].reshape(count, length, -1)  # (rows, length, hidden)
        kept = block[:, skip:]
        pooled = []
        for mode in modes:
            if mode is PoolingMode.CLS:
                pooled.append(block[:, skip if skip < length else 0])
            elif mode is PoolingMode.MAX:
                pooled.append(kept.max(axis=1) if skip < length else np.full_like(block[:, 0], -np.inf))
            elif mode in (PoolingMode.MEAN, PoolingMode.MEAN_SQRT_LEN):
                n = np.float32(max(length - skip, 0) or 1e-9)  # 1e-9: pooling's guard for an all-prompt row
                pooled.append(kept.sum(axis=1) / (n if mode is PoolingMode.MEAN else np.sqrt(n)))
            elif mode is PoolingMode.WEIGHTED_MEAN:
                weights = np.arange(1, length + 1, dtype=np.float32)
                weights[:skip] = 0
                total = np.float32(max(float(weights.sum()), 1e-9))
                pooled.append(np.einsum("rlh,l->rh", block, weights) / total)
            else:  # LAST_TOKEN
                pooled.append(block[:, length - 1])
        parts.append(np.concatenate(pooled, axis=1) if len(pooled) > 1 else pooled[0])
    return np.concatenate(parts).astype(np.float32, copy=False)


class TorchFreeModel:
    """A sentence model loaded without torch: calls of up to ``NUMPY_MAX_TOKENS`` tokens run
    :class:`NumpyBert`; for anything else its owner asks for the torch module (:meth:`module`).
    Thread-safe.

    Args:
        bert: the numpy transformer.
        pooling: pooling modes, concatenated.
        include_prompt: whether prompt tokens take part in pooling.
        load_module: builds the ``SentenceModule`` of the same folder (imports torch and transformers).
    """

    def __init__(
        self, bert: NumpyBert, pooling: Sequence[PoolingMode], include_prompt: bool,
        load_module: Callable[[], SentenceModule],
    ) -> None:
        self.bert = bert
        self.pooling = tuple(pooling)
        self.include_prompt = include_prompt
        self._load_module = load_module
        self._lock = threading.Lock()
        self._module: SentenceModule | None = None

    def __reduce__(self) -> tuple[type[TorchFreeModel], tuple[Any, ...]]:
        # copies and pickles carry the weights and the loader; a copy loads its own torch module
        return (TorchFreeModel, (self.bert, self.pooling, self.include_prompt, self._load_module))

    def module(self) -> SentenceModule:
        """The torch module of the same folder, loaded by the first caller (the others wait for it)."""
        with self._lock:
            if self._module is None:
                self._module = self._load_module()
            return self._module

    @property
    def dim(self) -> int:
        """Embedding dimension (no Dense stages: hidden size times pooling modes)."""
        return self.bert.hidden_size * len(self.pooling)

    def encode(self, rows: TokenRows, batches: Sequence[Sequence[int]], exclude_first: int, normalize: bool) -> npt.NDArray[np.float32]:
        """Sentence vectors of ``rows`` (windows averaged per input), float32 (n_inputs, dim)."""
        out = np.empty((len(rows.rows), self.dim), dtype=np.float32)
        skip = 0 if self.include_prompt else exclude_first
        for idx in batches:
            ids, positions, runs = _pack([rows.rows[i] for i in idx])
            out[np.asarray(idx)] = pool_runs(self.bert(ids, positions, runs), runs, self.pooling, skip)
        if len(rows.rows) != rows.n_inputs:  # windows of one input: average weighted by content tokens
            summed = np.zeros((rows.n_inputs, self.dim), dtype=np.float32)
            np.add.at(summed, rows.owner, out * rows.weight[:, None])
            total = np.zeros((rows.n_inputs, 1), dtype=np.float32)
            np.add.at(total, rows.owner, rows.weight[:, None])
            out = summed / total
        if normalize:  # as torch.nn.functional.normalize: eps 1e-12 guards a zero vector
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), np.float32(1e-12))
        return out
