"""Closed choices and small frozen configs shared by the encoders.

Owns parsing and validation of user-facing options (pooling modes, overflow policy, dtype,
device) and ``EncoderConfig``, the one object that says how a text encoder is loaded. Every
parser accepts the enum or its plain string, and its error lists the valid values. Holds no
model code.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from sbert_rag.errors import ConfigError

E = TypeVar("E", bound=enum.Enum)


class PoolingMode(str, enum.Enum):
    """How token vectors become one text vector (the names sentence-transformers uses)."""

    CLS = "cls"
    MEAN = "mean"
    MAX = "max"
    MEAN_SQRT_LEN = "mean_sqrt_len_tokens"
    WEIGHTED_MEAN = "weightedmean"
    LAST_TOKEN = "lasttoken"


# Accepted spellings besides the canonical values (issue and docs names).
_POOLING_ALIASES = {
    "mean_sqrt_len": PoolingMode.MEAN_SQRT_LEN,
    "weighted_mean": PoolingMode.WEIGHTED_MEAN,
    "last_token": PoolingMode.LAST_TOKEN,
}


class OverflowPolicy(str, enum.Enum):
    """What to do with an input longer than the model reads. Never silent."""

    WARN = "warn"  # truncate, one warning per call naming the inputs cut, and a report
    ERROR = "error"  # raise InputTooLongError naming the input, its length and the limit
    WINDOWS = "windows"  # overlapping windows that fit, mean-pooled: nothing is lost


class DType(str, enum.Enum):
    """Compute precision of the model (``auto``: the fastest that keeps cosine to fp32 >= 0.999)."""

    AUTO = "auto"
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"
    INT8 = "int8"  # text encoders on CPU: int8 matrix products, float32 elsewhere (opt-in)


def parse_enum(enum_type: type[E], value: object, what: str, aliases: dict[str, E] | None = None) -> E:
    """Return ``value`` as a member of ``enum_type``.

    Args:
        enum_type: the enum to parse into.
        value: a member or its string value.
        what: the option's name, for the error message.
        aliases: extra accepted spellings.

    Raises:
        ConfigError: the value is not one of the allowed ones; the message lists them.
    """
    if isinstance(value, enum_type):
        return value
    if isinstance(value, str):
        key = value.strip().lower()
        if aliases and key in aliases:
            return aliases[key]
        for member in enum_type:
            if member.value == key:
                return member
    allowed = ", ".join(repr(m.value) for m in enum_type)
    raise ConfigError(f"{what} must be one of {allowed}; got {value!r}")


def parse_pooling(value: object) -> PoolingMode:
    """Parse a pooling mode name (``cls``, ``mean``, ``max``, ``mean_sqrt_len_tokens``, ...)."""
    return parse_enum(PoolingMode, value, "pooling", _POOLING_ALIASES)


def parse_overflow(value: object) -> OverflowPolicy:
    """Parse an overflow policy (``warn``, ``error``, ``windows``)."""
    return parse_enum(OverflowPolicy, value, "overflow")


def parse_dtype(value: object) -> DType:
    """Parse a dtype name (``auto``, ``float32``, ``bfloat16``, ``float16``, ``int8``); ``fp32``/``bf16``/``fp16`` too."""
    aliases = {"fp32": DType.FLOAT32, "bf16": DType.BFLOAT16, "fp16": DType.FLOAT16, "half": DType.FLOAT16}
    return parse_enum(DType, value, "dtype", aliases)


def check_positive_int(value: object, what: str) -> int:
    """Return ``value`` if it is an int >= 1, else raise ConfigError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be an integer >= 1; got {value!r}")
    return value


_VECTOR_FIELDS = ("model", "pooling", "normalize", "query_prompt", "passage_prompt", "max_tokens")


@dataclass(frozen=True)
class EncoderConfig:
    """Everything that says how to load a text encoder: one object for every front end.

    A ``TextEncoder`` is built from it (``TextEncoder.from_config``, or ``load_encoder`` for a
    query/passage pair) and reports the settings it resolved (``encoder.config``: the model's own
    pooling, prompts and limit filled in), which stores record with their vectors. Adapters,
    the command line and stores take this object, or its field names, instead of declaring the
    options again. ``None`` means "as the model says".

    Attributes:
        model: model folder, Hub id (local cache only when offline), a folder holding a saved
            query/passage pair (``query/`` and ``passage/``), or None / ``packaged:all-MiniLM-L6-v2``
            for the packaged default.
        pooling: pooling mode(s), e.g. ``("mean",)``; required for a plain Hugging Face folder.
        normalize: L2-normalise the vectors.
        query_prompt: text prepended to queries.
        passage_prompt: text prepended to passages.
        max_tokens: token limit, special tokens and prompt included.
        overflow: ``warn`` (cut, warn, report), ``error`` or ``windows`` for longer inputs.
        dtype: ``auto``, ``float32``, ``bfloat16``, ``float16`` or ``int8`` (does not change which
            vectors are comparable: bf16 and fp32 vectors of one model agree to cosine >= 0.999;
            ``int8``, opt-in, quantises the text model's matrix products on CPU: faster, and
            further from fp32, its cost is measured in docs/speed.md).
        device: ``auto`` or a torch device string.
        batch_size: most texts per forward pass.
        max_batch_tokens: most padded tokens per forward pass; None = the device's default.
        window_overlap_tokens: tokens shared by consecutive windows under ``windows``.
        packed: the padding-free CPU forward (None = where supported).
    """

    model: str | None = None
    pooling: tuple[str, ...] | None = None
    normalize: bool | None = None
    query_prompt: str | None = None
    passage_prompt: str | None = None
    max_tokens: int | None = None
    overflow: str = "warn"
    dtype: str = "auto"
    device: str = "auto"
    batch_size: int = 256
    max_batch_tokens: int | None = None
    window_overlap_tokens: int = 32
    packed: bool | None = None

    def __post_init__(self) -> None:
        if self.model is not None and not isinstance(self.model, str):
            object.__setattr__(self, "model", str(self.model))  # a path-like
        if self.pooling is not None:
            modes = (self.pooling,) if isinstance(self.pooling, str) else tuple(self.pooling)
            if not modes:
                raise ConfigError("pooling must name at least one mode, or be None for the model's own")
            object.__setattr__(self, "pooling", tuple(parse_pooling(m).value for m in modes))
        object.__setattr__(self, "overflow", parse_overflow(self.overflow).value)
        object.__setattr__(self, "dtype", parse_dtype(self.dtype).value)
        for name in ("normalize", "packed"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ConfigError(f"{name} must be True, False or None; got {value!r}")
        for name in ("query_prompt", "passage_prompt"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name} must be a string or None; got {value!r}")
        if not isinstance(self.device, str) or not self.device:
            raise ConfigError(f"device must be 'auto' or a torch device string; got {self.device!r}")
        check_positive_int(self.batch_size, "batch_size")
        for name in ("max_tokens", "max_batch_tokens"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), name)
        value = self.window_overlap_tokens
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"window_overlap_tokens must be an integer >= 0; got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-plain form (``pooling`` as a list); ``from_dict`` reads it back."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["pooling"] = list(self.pooling) if self.pooling is not None else None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EncoderConfig:
        """Build from ``to_dict`` output (or any subset of the fields).

        Raises:
            ConfigError: a key is not a field (the message lists the valid ones), or a value is invalid.
        """
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown EncoderConfig key(s) {unknown}; valid keys are {known}")
        values = dict(data)
        if isinstance(values.get("pooling"), list):
            values["pooling"] = tuple(values["pooling"])
        return cls(**values)

    def replace(self, **changes: Any) -> EncoderConfig:
        """A copy with some fields changed (validated like a new config)."""
        return dataclasses.replace(self, **changes)

    def vector_settings(self) -> dict[str, Any]:
        """The fields that fix which vectors come out (model, pooling, normalisation, prompts, limit)."""
        return {name: self.to_dict()[name] for name in _VECTOR_FIELDS}

    def load_options(self) -> dict[str, Any]:
        """Keyword arguments of ``TextEncoder.from_pretrained`` for every field but ``model``."""
        options = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        options["pooling"] = list(self.pooling) if self.pooling is not None else None
        return options
