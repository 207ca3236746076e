"""LlamaIndex ``BaseEmbedding`` over an sbert_rag ``TextEncoder``.

Targets llama-index-core 0.13-0.14 (tested with 0.14.25). Owns routing LlamaIndex's calls to
sbert_rag's roles: ``get_query_embedding`` -> the query prompt, ``get_text_embedding(_batch)``
-> the passage prompt, with each ``embed_batch_size`` batch reaching the encoder as one call
(``_get_text_embeddings``), and async twins run in a worker thread. Deliberately holds no
encoding logic, retries or text rewriting, and loads nothing until the first call.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr, field_serializer
from llama_index.core.callbacks import CallbackManager

import sbert_rag
from llama_index.embeddings.sbert_rag._threaded import ThreadedTextAsync
from sbert_rag import EncoderConfig

PACKAGED_MODEL = "packaged:all-MiniLM-L6-v2"


class SbertRagEmbedding(ThreadedTextAsync, BaseEmbedding):
    """sbert_rag text embeddings for LlamaIndex, with queries and passages kept apart.

    Built with no arguments it uses the packaged all-MiniLM-L6-v2, loaded on the first call,
    offline. For another model pass ``config=`` an ``sbert_rag.EncoderConfig`` (every loading
    option of ``TextEncoder.from_pretrained``; a query/passage pair folder works too), or its
    field names as keywords (``device="cpu"``, ``query_prompt=...``; ``model_path=`` is the
    ``model`` field), or a built encoder (``SbertRagEmbedding(encoder)``).

    An empty or blank text raises ``sbert_rag.InvalidInputError`` naming its index within the
    batch; nothing is dropped or truncated silently (the overflow policy applies).

    Example:
        >>> from llama_index.core import Document, VectorStoreIndex
        >>> from sbert_rag import EncoderConfig
        >>> embed_model = SbertRagEmbedding(config=EncoderConfig(device="cpu", overflow="error"))
        >>> docs = [Document(text="Paris is the capital of France.")]
        >>> index = VectorStoreIndex.from_documents(docs, embed_model=embed_model)

    Attributes:
        config: the settings the model loads with; ``to_dict`` carries it (JSON-plain), so
            ``from_dict`` rebuilds the same vectors. With a built encoder: what fixes its vectors
            (``vector_settings()``) and its overflow policy; device, dtype and batch sizes are
            left to the machine that rebuilds it.
    """

    config: EncoderConfig = Field(
        default_factory=EncoderConfig, description="How the model loads (sbert_rag.EncoderConfig)."
    )

    _encoder: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        encoder: sbert_rag.Encoder | None = None,
        *,
        config: EncoderConfig | Mapping[str, Any] | None = None,
        model_path: str | None = None,
        model_name: str | None = None,
        embed_batch_size: int = 32,
        callback_manager: CallbackManager | None = None,
        num_workers: int | None = None,
        embeddings_cache: Any | None = None,
        **settings: Any,
    ) -> None:
        """Configure the adapter; nothing is loaded here unless ``encoder`` is given.

        Args:
            encoder: a built sbert_rag encoder (``TextEncoder`` or ``DualEncoder``), used as is
                (its device, prompts and overflow policy apply; ``config`` records its settings).
            config: how to load the model on first use (or its ``to_dict`` form); None = the
                packaged default.
            model_path: the ``model`` field of ``config`` (a folder, a pair folder or a Hub id).
            model_name: must match the model if given (``to_dict`` output carries it); None =
                ``"packaged:all-MiniLM-L6-v2"`` or ``config.model``.
            embed_batch_size: texts per ``_get_text_embeddings`` call (LlamaIndex batching).
            callback_manager: LlamaIndex callbacks (one EMBEDDING event per batch).
            num_workers: LlamaIndex's async worker count.
            embeddings_cache: LlamaIndex's optional ``BaseKVStore`` embedding cache.
            **settings: ``EncoderConfig`` fields by name, over ``config`` (``device``, ``overflow``,
                ``query_prompt``, ``passage_prompt``, ``pooling``, ``max_tokens``, ...).

        Raises:
            sbert_rag.ConfigError: ``encoder`` was given with settings, ``model_name`` names
                another model, or a setting is unknown or invalid (the message names it).
            pydantic.ValidationError: a field is out of range (e.g. ``embed_batch_size`` < 1).
        """
        named = {"config": config, "model_path": model_path, **settings}
        given = sorted(k for k, v in named.items() if v is not None)
        if encoder is not None:
            if given:
                raise sbert_rag.ConfigError(
                    f"a built encoder carries its own settings; pass either encoder= or {given}, not both"
                )
            own = encoder.config
            resolved = EncoderConfig.from_dict({**own.vector_settings(), "overflow": own.overflow})
        else:
            if model_path is not None:
                settings = {"model": model_path, **settings}  # model_path is the documented name of ``model``
            base = config.to_dict() if isinstance(config, EncoderConfig) else dict(config or {})
            # one EncoderConfig holds every setting: unknown names and bad values are refused here
            resolved = EncoderConfig.from_dict({**base, **settings})
        expected = resolved.model or PACKAGED_MODEL
        if model_name is not None and model_name != expected:
            raise sbert_rag.ConfigError(f"model_name {model_name!r} does not match the model {expected!r}")
        super().__init__(
            model_name=expected, config=resolved, embed_batch_size=embed_batch_size,
            callback_manager=callback_manager, num_workers=num_workers, embeddings_cache=embeddings_cache,
        )
        self._encoder = encoder

    @classmethod
    def class_name(cls) -> str:
        """Name LlamaIndex stores in ``to_dict`` output."""
        return "SbertRagEmbedding"

    @field_serializer("config")
    def _config_to_dict(self, config: EncoderConfig) -> dict[str, Any]:
        return config.to_dict()  # JSON-plain, as LlamaIndex stores it

    @property
    def encoder(self) -> Any:
        """The text encoder, loaded on first access (thread-safe) with ``sbert_rag.load_encoder(config)``."""
        with self._lock:
            if self._encoder is None:
                self._encoder = sbert_rag.load_encoder(self.config)
            return self._encoder

    # ------------------------------------------------------------------ LlamaIndex hooks
    def _get_query_embedding(self, query: str) -> Embedding:
        return self.encoder.encode_queries([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.encoder.encode_passages([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        # one encoder call per LlamaIndex batch; the encoder batches forward passes itself
        return self.encoder.encode_passages(texts).tolist()
