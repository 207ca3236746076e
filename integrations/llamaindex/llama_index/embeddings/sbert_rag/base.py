"""LlamaIndex ``BaseEmbedding`` over an sbert_rag ``TextEncoder``.

Targets llama-index-core 0.13-0.14 (tested with 0.14.25). Owns routing LlamaIndex's calls to
sbert_rag's roles: ``get_query_embedding`` -> the query prompt, ``get_text_embedding(_batch)``
-> the passage prompt, with each ``embed_batch_size`` batch reaching the encoder as one call
(``_get_text_embeddings``), and async twins run in a worker thread. Deliberately holds no
encoding logic, retries or text rewriting, and loads nothing until the first call.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.callbacks import CallbackManager

import sbert_rag
from llama_index.embeddings.sbert_rag._threaded import ThreadedTextAsync

PACKAGED_MODEL = "packaged:all-MiniLM-L6-v2"
Overflow = Literal["warn", "error", "windows"]


class SbertRagEmbedding(ThreadedTextAsync, BaseEmbedding):
    """sbert_rag text embeddings for LlamaIndex, with queries and passages kept apart.

    Built with no arguments it uses the packaged all-MiniLM-L6-v2, loaded on the first call,
    offline. Pass a built ``TextEncoder`` (``SbertRagEmbedding(encoder)``) or a model folder
    (``model_path=``) for another model.

    An empty or blank text raises ``sbert_rag.InvalidInputError`` naming its index within the
    batch; nothing is dropped or truncated silently (the overflow policy applies).

    Example:
        >>> from llama_index.core import VectorStoreIndex
        >>> index = VectorStoreIndex.from_documents(docs, embed_model=SbertRagEmbedding())

    Attributes:
        model_path: model folder; None = packaged default. Set from the encoder when one is passed.
        device: ``"auto"`` (cuda, mps, cpu) or a torch device, used when the adapter loads the model.
        overflow: ``"warn"`` (truncate with a warning), ``"error"`` or ``"windows"``.
        query_prompt: text prepended to queries; None = the model's saved query prompt.
        passage_prompt: text prepended to texts; None = the model's saved passage prompt.
    """

    model_path: str | None = Field(
        default=None, description="Model folder; None = packaged all-MiniLM-L6-v2."
    )
    device: str = Field(default="auto", description="Torch device for a model the adapter loads.")
    overflow: Overflow = Field(default="warn", description="Policy for inputs longer than the model reads.")
    query_prompt: str | None = Field(default=None, description="Query prompt; None = the model's own.")
    passage_prompt: str | None = Field(default=None, description="Passage prompt; None = the model's own.")

    _encoder: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        encoder: sbert_rag.TextEncoder | None = None,
        *,
        model_path: str | None = None,
        device: str = "auto",
        overflow: Overflow = "warn",
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        model_name: str | None = None,
        embed_batch_size: int = 32,
        callback_manager: CallbackManager | None = None,
        num_workers: int | None = None,
        embeddings_cache: Any | None = None,
    ) -> None:
        """Configure the adapter; nothing is loaded here unless ``encoder`` is given.

        Args:
            encoder: a built ``sbert_rag.TextEncoder``, used as is (its device, prompts and
                overflow policy apply; the fields record its folder and prompts).
            model_path: model folder to load on first use; None = packaged default.
            device: torch device for a model the adapter loads.
            overflow: overflow policy for a model the adapter loads.
            query_prompt: query prompt for a model the adapter loads.
            passage_prompt: passage prompt for a model the adapter loads.
            model_name: must match the model if given (``to_dict`` output carries it); None =
                ``"packaged:all-MiniLM-L6-v2"`` or the folder path.
            embed_batch_size: texts per ``_get_text_embeddings`` call (LlamaIndex batching).
            callback_manager: LlamaIndex callbacks (one EMBEDDING event per batch).
            num_workers: LlamaIndex's async worker count.
            embeddings_cache: LlamaIndex's optional ``BaseKVStore`` embedding cache.

        Raises:
            sbert_rag.ConfigError: both ``encoder`` and ``model_path`` were given, or
                ``model_name`` names another model.
            pydantic.ValidationError: a field is out of range (e.g. ``embed_batch_size`` < 1).
        """
        if encoder is not None:
            if model_path is not None:
                raise sbert_rag.ConfigError("pass either encoder= or model_path=, not both")
            name = encoder.model_name
            model_path = None if name == PACKAGED_MODEL else name
            query_prompt, passage_prompt = encoder.prompts.query, encoder.prompts.passage
            overflow = encoder.overflow.value
        expected = PACKAGED_MODEL if model_path is None else str(model_path)
        if model_name is not None and model_name != expected:
            raise sbert_rag.ConfigError(f"model_name {model_name!r} does not match the model {expected!r}")
        super().__init__(
            model_name=expected,
            model_path=None if model_path is None else str(model_path),
            device=device,
            overflow=overflow,
            query_prompt=query_prompt,
            passage_prompt=passage_prompt,
            embed_batch_size=embed_batch_size,
            callback_manager=callback_manager,
            num_workers=num_workers,
            embeddings_cache=embeddings_cache,
        )
        self._encoder = encoder

    @classmethod
    def class_name(cls) -> str:
        """Name LlamaIndex stores in ``to_dict`` output."""
        return "SbertRagEmbedding"

    @property
    def encoder(self) -> sbert_rag.TextEncoder:
        """The ``TextEncoder``, loaded on first access (thread-safe)."""
        with self._lock:
            if self._encoder is None:
                self._encoder = sbert_rag.TextEncoder.from_pretrained(
                    self.model_path,
                    device=self.device,
                    overflow=self.overflow,
                    query_prompt=self.query_prompt,
                    passage_prompt=self.passage_prompt,
                )
            return self._encoder

    # ------------------------------------------------------------------ LlamaIndex hooks
    def _get_query_embedding(self, query: str) -> Embedding:
        return self.encoder.encode_queries([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.encoder.encode_passages([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        # one encoder call per LlamaIndex batch; the encoder batches forward passes itself
        return self.encoder.encode_passages(texts).tolist()
