"""Closed choices and small frozen configs shared by the encoders.

Owns parsing and validation of user-facing options (pooling modes, overflow policy, dtype,
device). Every parser accepts the enum or its plain string, and its error lists the valid
values. Holds no model code.
"""

from __future__ import annotations

import enum
from typing import TypeVar

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
    """Parse a dtype name (``auto``, ``float32``, ``bfloat16``, ``float16``); ``fp32``/``bf16``/``fp16`` too."""
    aliases = {"fp32": DType.FLOAT32, "bf16": DType.BFLOAT16, "fp16": DType.FLOAT16, "half": DType.FLOAT16}
    return parse_enum(DType, value, "dtype", aliases)


def check_positive_int(value: object, what: str) -> int:
    """Return ``value`` if it is an int >= 1, else raise ConfigError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be an integer >= 1; got {value!r}")
    return value
