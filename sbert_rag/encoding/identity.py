"""The identity of an encoder's vectors: a JSON-plain dict that stores record beside their vectors.

Owns which settings fix a ``TextEncoder``'s vectors (model, dimension, pooling, normalisation,
token limit, both prompts) and how two recorded identities are compared, so that a store built
with one model refuses queries or new passages from another instead of mixing vector spaces
that cannot be compared. Deliberately leaves out the device and the compute dtype, which belong
to the machine (bf16 and fp32 vectors of one model agree to cosine >= 0.999), and loads nothing.
"""

from __future__ import annotations

from typing import Any

PACKAGED_MODEL = "packaged:all-MiniLM-L6-v2"
"""The recorded name of the packaged default model (``TextEncoder.from_pretrained(None)``)."""


def vector_config(encoder: Any) -> dict[str, Any]:
    """What fixes ``encoder``'s vectors, JSON-plain.

    Args:
        encoder: a ``TextEncoder`` or a ``DualEncoder`` (anything with ``config`` and ``dim``).

    Returns:
        ``model`` (folder path or ``PACKAGED_MODEL``), ``dim``, ``pooling`` (list of modes),
        ``normalize``, ``max_tokens``, ``query_prompt``, ``passage_prompt``.
    """
    return {**encoder.config.vector_settings(), "dim": int(encoder.dim)}


def config_differences(recorded: dict[str, Any], new: dict[str, Any]) -> str:
    """Every key on which two identities differ, as ``"key: recorded -> new"`` joined by commas.

    This is the one test of "same vectors": stores (``store.json``) and Chroma collections (the
    embedding function's config) both record ``vector_config`` and compare with this.

    Returns:
        An empty string when they agree.
    """
    keys = sorted(k for k in set(recorded) | set(new) if recorded.get(k) != new.get(k))
    return ", ".join(f"{k}: {recorded.get(k)!r} -> {new.get(k)!r}" for k in keys)


def model_argument(name: str | None) -> str | None:
    """Turn a recorded model name back into what ``TextEncoder.from_pretrained`` takes (None = packaged)."""
    return None if name in (None, PACKAGED_MODEL) else name
