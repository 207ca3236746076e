"""LangChain ``Embeddings`` over sbert_rag: passages, queries and, with a CLIP model, images.

Targets langchain-core 1.x (tested with 1.8.3, langchain-tests 1.1.9 and langchain-chroma 1.1.0).
Owns the translation from LangChain's calls to sbert_rag's: ``embed_documents`` -> passages
(passage prompt), ``embed_query`` -> queries (query prompt), ``embed_image`` -> CLIP image
vectors, and lists of plain Python floats out. Deliberately does no encoding, retrying or text
rewriting of its own (newlines are kept, nothing is truncated silently: the encoder's overflow
policy applies), and loads nothing until the first call.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

import sbert_rag

Overflow = Literal["warn", "error", "windows"]


class SbertRagEmbeddings(BaseModel, Embeddings):
    """sbert_rag text (or CLIP) embeddings for LangChain.

    Built with no arguments it uses the packaged all-MiniLM-L6-v2, loaded on the first call,
    offline. Pass a built ``TextEncoder`` (``SbertRagEmbeddings(encoder)``) or a model folder
    (``model_path=``) for another model, or a CLIP model (``clip=`` a ``CLIPEncoder``, or
    ``clip_path=`` a folder saved by ``CLIPEncoder.save``) for text-and-image stores.

    With a CLIP model attached, texts are embedded by CLIP's text tower too, so documents,
    queries and images share one vector space (what langchain-chroma's ``add_images`` and
    ``similarity_search_by_image`` need in one collection); a text model cannot be given as well.

    Inputs are never rewritten. An empty or blank text raises ``sbert_rag.InvalidInputError``
    naming its index (a vector of nothing would match arbitrary queries); an empty list gives an
    empty list.

    Example:
        >>> from langchain_chroma import Chroma
        >>> store = Chroma("docs", embedding_function=SbertRagEmbeddings())
        >>> store.add_texts(["Paris is the capital of France."])
        >>> store.similarity_search("capital of France?", k=1)

    Attributes:
        model_path: text model folder; None = the packaged default (ignored with a CLIP model).
        clip_path: folder of a saved ``CLIPEncoder``; None = no CLIP (unless ``clip=`` is given).
        device: ``"auto"`` (cuda, mps, cpu) or a torch device, used when the adapter loads a model.
        overflow: inputs longer than the model reads: ``"warn"`` (truncate, warn, never die
            mid-index), ``"error"`` (raise) or ``"windows"`` (average overlapping windows).
        query_prompt: text prepended to queries; None = the model's saved query prompt.
        passage_prompt: text prepended to documents; None = the model's saved passage prompt.
        batch_size: texts or images per forward pass; None = the encoder's default.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), validate_assignment=True)

    model_path: str | None = None
    clip_path: str | None = None
    device: str = "auto"
    overflow: Overflow = "warn"
    query_prompt: str | None = None
    passage_prompt: str | None = None
    batch_size: int | None = Field(default=None, gt=0)

    _encoder: Any = PrivateAttr(default=None)
    _clip: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        encoder: sbert_rag.TextEncoder | None = None,
        *,
        model_path: str | None = None,
        clip: Any = None,
        clip_path: str | None = None,
        device: str = "auto",
        overflow: Overflow = "warn",
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        batch_size: int | None = None,
    ) -> None:
        """Configure the adapter; nothing is loaded here.

        Args:
            encoder: a built ``sbert_rag.TextEncoder``, used as is (its own device, prompts and
                overflow policy apply).
            model_path: text model folder to load on first use; None = packaged default.
            clip: a built ``sbert_rag.image.CLIPEncoder``; enables ``embed_image``.
            clip_path: a folder saved by ``CLIPEncoder.save``, loaded on first use.
            device: torch device for models the adapter loads.
            overflow: overflow policy for models the adapter loads.
            query_prompt: query prompt for a text model the adapter loads.
            passage_prompt: passage prompt for a text model the adapter loads.
            batch_size: forward batch size for models the adapter loads; None = the encoder's default.

        Raises:
            sbert_rag.ConfigError: both an object and a path were given for one model, or a text
                model was given together with a CLIP model.
        """
        if encoder is not None and model_path is not None:
            raise sbert_rag.ConfigError("pass either encoder= or model_path=, not both")
        if clip is not None and clip_path is not None:
            raise sbert_rag.ConfigError("pass either clip= or clip_path=, not both")
        has_clip = clip is not None or clip_path is not None
        if has_clip and (encoder is not None or model_path is not None):
            raise sbert_rag.ConfigError(
                "with a CLIP model attached, texts are embedded by CLIP so that texts and images share "
                "one space; drop encoder=/model_path=, or use two SbertRagEmbeddings (one per store)"
            )
        if encoder is not None and not isinstance(encoder, sbert_rag.Encoder):
            raise sbert_rag.ConfigError(
                "encoder must be an sbert_rag encoder (encode_queries, encode_passages, dim); "
                f"got {type(encoder).__name__}"
            )
        super().__init__(
            model_path=model_path,
            clip_path=clip_path,
            device=device,
            overflow=overflow,
            query_prompt=query_prompt,
            passage_prompt=passage_prompt,
            batch_size=batch_size,
        )
        self._encoder = encoder
        self._clip = clip

    # ------------------------------------------------------------------ models, loaded lazily
    @property
    def has_clip(self) -> bool:
        """Whether a CLIP model is attached (texts and images then share CLIP's space)."""
        return self._clip is not None or self.clip_path is not None

    @property
    def encoder(self) -> Any:
        """The model that embeds texts: the ``TextEncoder``, or the ``CLIPEncoder`` when attached.

        Loads it on first access (thread-safe).
        """
        if self.has_clip:
            return self.clip
        with self._lock:
            if self._encoder is None:
                options = {} if self.batch_size is None else {"batch_size": self.batch_size}
                self._encoder = sbert_rag.TextEncoder.from_pretrained(
                    self.model_path,
                    device=self.device,
                    overflow=self.overflow,
                    query_prompt=self.query_prompt,
                    passage_prompt=self.passage_prompt,
                    **options,
                )
            return self._encoder

    @property
    def clip(self) -> Any:
        """The attached ``CLIPEncoder``, loaded on first access.

        Raises:
            sbert_rag.ConfigError: no CLIP model is attached.
        """
        if not self.has_clip:
            raise sbert_rag.ConfigError(
                "embed_image needs a CLIP model: build SbertRagEmbeddings(clip=CLIPEncoder...) or "
                "SbertRagEmbeddings(clip_path='folder saved by CLIPEncoder.save')"
            )
        with self._lock:
            if self._clip is None:
                from sbert_rag import CLIPEncoder

                options = {} if self.batch_size is None else {"batch_size": self.batch_size}
                self._clip = CLIPEncoder.load(
                    self.clip_path, device=self.device, overflow=self.overflow, **options
                )
            return self._clip

    # ------------------------------------------------------------------ LangChain API
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents as passages (CLIP texts when CLIP is attached).

        Args:
            texts: non-blank strings.

        Returns:
            One list of ``dim`` Python floats per text, in order; unit length for normalising models.

        Raises:
            sbert_rag.InvalidInputError: a text is empty, blank or not a string (named by index).
            sbert_rag.InputTooLongError: overflow ``"error"`` and a text is longer than the model reads.
        """
        model = self.encoder
        vectors = model.encode_texts(texts) if self.has_clip else model.encode_passages(texts)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (query prompt; CLIP text when CLIP is attached).

        Returns:
            ``dim`` Python floats.

        Raises:
            sbert_rag.InvalidInputError: the text is empty, blank or not a string.
        """
        model = self.encoder
        vectors = model.encode_texts([text]) if self.has_clip else model.encode_queries([text])
        return vectors[0].tolist()

    def embed_image(self, uris: list[str]) -> list[list[float]]:
        """Embed image files with the attached CLIP model (called by langchain-chroma).

        Args:
            uris: local image file paths (URLs are not fetched).

        Returns:
            One list of ``dim`` Python floats per image, in order, unit length.

        Raises:
            sbert_rag.ConfigError: no CLIP model is attached.
            sbert_rag.InvalidInputError: a file is missing or not an image (named by index and path).
        """
        return self.clip.encode_images(list(uris)).tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents`, run in a worker thread."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`, run in a worker thread."""
        return await asyncio.to_thread(self.embed_query, text)

    async def aembed_image(self, uris: list[str]) -> list[list[float]]:
        """Async :meth:`embed_image`, run in a worker thread."""
        return await asyncio.to_thread(self.embed_image, uris)
