"""Chroma 1.x ``EmbeddingFunction`` over an sbert_rag ``TextEncoder``, registered as ``sbert_rag``.

Targets chromadb 1.x (tested with 1.5.9). Owns the persistence contract: ``name`` /
``get_config`` / ``build_from_config`` / ``validate_config`` round-trip through a collection's
configuration, so a collection reopened in a new process (that imports ``sbert_rag_chroma``)
rebuilds the same function; documents are embedded as passages and ``query_texts`` as queries
(``embed_query``). The config holds what fixes the vectors (model, dimension, pooling,
normalisation, prompts, token limit, overflow policy) and never the device or compute dtype,
which depend on the machine (``dtype="auto"`` keeps cosine >= 0.999 to float32), so it travels
between machines. Chroma rebuilds functions from config on every add and query, so loaded models
are cached per process, keyed by the whole config (not by name alone).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

import sbert_rag
from sbert_rag.encoding.identity import PACKAGED_MODEL, config_differences, vector_config

NAME = "sbert_rag"
_OVERFLOWS = ("warn", "error", "windows")
# key -> JSON type(s) its value must have; "model" is a folder path or PACKAGED_MODEL
CONFIG_KEYS: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "dim": (int,),
    "pooling": (list,),
    "normalize": (bool,),
    "max_tokens": (int,),
    "query_prompt": (str,),
    "passage_prompt": (str,),
    "overflow": (str,),
}

_cache: dict[str, sbert_rag.TextEncoder] = {}
_cache_lock = threading.Lock()


def encoder_config(encoder: sbert_rag.TextEncoder) -> dict[str, Any]:
    """The JSON-plain config that rebuilds ``encoder``'s vectors (see ``CONFIG_KEYS``); no device."""
    return {**vector_config(encoder), "overflow": encoder.overflow.value}


def _cache_key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


def _load(config: dict[str, Any], device: str) -> sbert_rag.TextEncoder:
    """Load the encoder a config describes, once per process and config."""
    key = _cache_key(config)
    with _cache_lock:
        encoder = _cache.get(key)
        if encoder is None:
            encoder = sbert_rag.TextEncoder.from_pretrained(
                None if config["model"] == PACKAGED_MODEL else config["model"],
                pooling=config["pooling"],
                normalize=config["normalize"],
                device=device,
                overflow=config["overflow"],
                max_tokens=config["max_tokens"],
                query_prompt=config["query_prompt"],
                passage_prompt=config["passage_prompt"],
            )
            built = encoder_config(encoder)
            if built != config:
                diff = {k: (config[k], built[k]) for k in config if config[k] != built[k]}
                raise sbert_rag.ConfigError(
                    f"the model folder {config['model']!r} no longer matches the persisted config "
                    f"(persisted, loaded): {diff}"
                )
            _cache[key] = encoder
        return encoder


@register_embedding_function
class SbertRagEmbeddingFunction(EmbeddingFunction[Documents]):
    """Embed Chroma documents as passages and query texts as queries with an sbert_rag model.

    Built with no arguments it uses the packaged all-MiniLM-L6-v2 (offline), loaded on the first
    call. New collections default to cosine space (the vectors are unit length).

    An empty or blank document raises ``sbert_rag.InvalidInputError`` naming its index.

    Example:
        >>> import chromadb, sbert_rag_chroma
        >>> client = chromadb.PersistentClient("db")
        >>> ef = sbert_rag_chroma.SbertRagEmbeddingFunction()
        >>> col = client.create_collection("docs", embedding_function=ef)
        >>> col.add(ids=["1"], documents=["Paris is the capital of France."])
        >>> # later, in a new process that imports sbert_rag_chroma:
        >>> client.get_collection("docs").query(query_texts=["capital of France?"])
    """

    def __init__(
        self,
        encoder: sbert_rag.TextEncoder | None = None,
        *,
        model_path: str | None = None,
        device: str = "auto",
        overflow: str = "warn",
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
    ) -> None:
        """Configure the function.

        Args:
            encoder: a built ``sbert_rag.TextEncoder``; its folder must stay where it is for
                collections to reopen. Reused (not reloaded) by functions rebuilt in this process.
            model_path: model folder to load on first use; None = packaged default.
            device: torch device here; never persisted (a rebuilt function uses ``"auto"``, and
                the compute dtype is always the encoder's ``"auto"`` choice).
            overflow: ``"warn"``, ``"error"`` or ``"windows"`` for a model loaded here.
            query_prompt: query prompt for a model loaded here; None = the model's own.
            passage_prompt: passage prompt for a model loaded here; None = the model's own.

        Raises:
            sbert_rag.ConfigError: both ``encoder`` and ``model_path`` were given, or ``overflow`` is unknown.
        """
        if encoder is not None and model_path is not None:
            raise sbert_rag.ConfigError("pass either encoder= or model_path=, not both")
        if overflow not in _OVERFLOWS:
            raise sbert_rag.ConfigError(f"overflow must be one of {_OVERFLOWS}; got {overflow!r}")
        self._encoder = encoder
        self._config: dict[str, Any] | None = None
        self._load_args = (model_path, device, overflow, query_prompt, passage_prompt)
        self._lock = threading.Lock()
        if encoder is not None:
            self._config = encoder_config(encoder)
            with _cache_lock:
                _cache.setdefault(_cache_key(self._config), encoder)

    @property
    def encoder(self) -> sbert_rag.TextEncoder:
        """The ``TextEncoder``, loaded on first access."""
        with self._lock:
            if self._encoder is None:
                model_path, device, overflow, query_prompt, passage_prompt = self._load_args
                self._encoder = sbert_rag.TextEncoder.from_pretrained(
                    model_path,
                    device=device,
                    overflow=overflow,
                    query_prompt=query_prompt,
                    passage_prompt=passage_prompt,
                )
                self._config = encoder_config(self._encoder)
                with _cache_lock:
                    _cache.setdefault(_cache_key(self._config), self._encoder)
            return self._encoder

    # ------------------------------------------------------------------ embedding
    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - Chroma checks the name
        """Embed documents as passages; one float32 vector per document, in order."""
        return list(self.encoder.encode_passages(list(input)).astype(np.float32))

    def embed_query(self, input: Documents) -> Embeddings:  # noqa: A002
        """Embed query texts with the query prompt (Chroma calls this for ``query_texts``)."""
        return list(self.encoder.encode_queries(list(input)).astype(np.float32))

    # ------------------------------------------------------------------ persistence contract
    @staticmethod
    def name() -> str:
        """Registry name persisted with collections."""
        return NAME

    def get_config(self) -> dict[str, Any]:
        """JSON-plain config (see ``CONFIG_KEYS``); loads the model if needed to read its dimension."""
        if self._config is None:
            _ = self.encoder
        return dict(self._config or {})

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SbertRagEmbeddingFunction:
        """Rebuild the function a ``get_config`` dict describes (device and dtype "auto", cached per process).

        Raises:
            sbert_rag.ConfigError: the config is invalid, or the model folder now gives other settings.
        """
        SbertRagEmbeddingFunction.validate_config(config)
        return SbertRagEmbeddingFunction(_load(dict(config), "auto"))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Check keys and value types.

        Raises:
            sbert_rag.ConfigError: a key is unknown or missing, or a value has the wrong type.
        """
        if not isinstance(config, dict):
            raise sbert_rag.ConfigError(f"an {NAME} config must be a dict; got {type(config).__name__}")
        unknown, missing = sorted(set(config) - set(CONFIG_KEYS)), sorted(set(CONFIG_KEYS) - set(config))
        if unknown or missing:
            raise sbert_rag.ConfigError(
                f"invalid {NAME} config: unknown keys {unknown}, missing keys {missing}; "
                f"expected {sorted(CONFIG_KEYS)}"
            )
        for key, types in CONFIG_KEYS.items():
            value = config[key]
            if not isinstance(value, types) or (types == (int,) and isinstance(value, bool)):
                raise sbert_rag.ConfigError(
                    f"{NAME} config {key!r} must be {types[0].__name__}; got {value!r}"
                )
        if config["overflow"] not in _OVERFLOWS:
            raise sbert_rag.ConfigError(
                f"{NAME} config overflow must be one of {_OVERFLOWS}; got {config['overflow']!r}"
            )

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        """Refuse a change of model or of anything else that changes the vectors.

        Note Chroma persists a ``modify`` before calling this, so it warns the caller rather
        than guarding the stored config.

        Raises:
            sbert_rag.ConfigError: the update changes the vectors; the message names both models.
        """
        check_same_vectors(old_config, new_config, "this collection")

    def default_space(self) -> Space:
        """Cosine: the vectors are unit length (inner product and L2 rank the same)."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """All three Chroma spaces rank unit vectors alike."""
        return ["cosine", "ip", "l2"]


def check_same_vectors(persisted: dict[str, Any], new: dict[str, Any], where: str) -> None:
    """Raise unless two ``sbert_rag`` configs give comparable vectors.

    Raises:
        sbert_rag.ConfigError: they differ; the message names both models and every differing key.
    """
    details = config_differences(persisted, new)
    if details:
        raise sbert_rag.ConfigError(
            f"{where} was embedded with model {persisted.get('model')!r} (dim {persisted.get('dim')}); "
            f"refusing model {new.get('model')!r} (dim {new.get('dim')}) because its vectors are not "
            f"comparable ({details}). Reopen it without an embedding function (the persisted one is "
            f"rebuilt), or use a new collection."
        )
