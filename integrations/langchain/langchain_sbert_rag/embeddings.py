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
from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, PrivateAttr

import sbert_rag
from sbert_rag import EncoderConfig

# what CLIPEncoder.load takes of the EncoderConfig fields, when a CLIP model is attached
_CLIP_SETTINGS = ("device", "overflow", "batch_size")


class SbertRagEmbeddings(BaseModel, Embeddings):
    """sbert_rag text (or CLIP) embeddings for LangChain.

    Built with no arguments it uses the packaged all-MiniLM-L6-v2, loaded on the first call,
    offline. For another model pass ``config=`` an ``sbert_rag.EncoderConfig`` (every loading
    option of ``TextEncoder.from_pretrained``; a query/passage pair folder works too), or its
    field names as keywords (``device="cpu"``, ``query_prompt=...``; ``model_path=`` is the
    ``model`` field), or a built encoder (``SbertRagEmbeddings(encoder)``). A CLIP model
    (``clip=`` a ``CLIPEncoder``, or ``clip_path=`` a folder saved by ``CLIPEncoder.save``) serves
    text-and-image stores.

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
        config: the settings the text model loads with; None when a built encoder or a CLIP
            model is used.
        clip_path: folder of a saved ``CLIPEncoder``; None = no CLIP (unless ``clip=`` is given).
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), validate_assignment=True)

    config: EncoderConfig | None = None
    clip_path: str | None = None

    _encoder: Any = PrivateAttr(default=None)
    _clip: Any = PrivateAttr(default=None)
    _clip_settings: dict[str, Any] = PrivateAttr(default_factory=dict)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        encoder: sbert_rag.Encoder | None = None,
        *,
        config: EncoderConfig | None = None,
        model_path: str | None = None,
        clip: Any = None,
        clip_path: str | None = None,
        **settings: Any,
    ) -> None:
        """Configure the adapter; nothing is loaded here.

        Args:
            encoder: a built sbert_rag encoder (``TextEncoder`` or ``DualEncoder``), used as is
                (its own device, prompts and overflow policy apply).
            config: how to load the text model on first use; None = the packaged default.
            model_path: the ``model`` field of ``config`` (a folder, a pair folder or a Hub id).
            clip: a built ``sbert_rag.image.CLIPEncoder``; enables ``embed_image``.
            clip_path: a folder saved by ``CLIPEncoder.save``, loaded on first use.
            **settings: ``EncoderConfig`` fields by name, over ``config`` (``device``, ``overflow``,
                ``query_prompt``, ``passage_prompt``, ``batch_size``, ``pooling``, ...). With a CLIP
                model only ``device``, ``overflow`` and ``batch_size``, which CLIP loads with.

        Raises:
            sbert_rag.ConfigError: both an object and settings were given for one model, a text
                model was given together with a CLIP model, or a setting is unknown or invalid
                (the message names it).
        """
        if clip is not None and clip_path is not None:
            raise sbert_rag.ConfigError("pass either clip= or clip_path=, not both")
        has_clip = clip is not None or clip_path is not None
        named = {"config": config, "model_path": model_path, **settings}
        given = sorted(k for k, v in named.items() if v is not None)
        if has_clip:
            text_only = [k for k in given if k not in _CLIP_SETTINGS]
            if encoder is not None or text_only:
                raise sbert_rag.ConfigError(
                    "with a CLIP model attached, texts are embedded by CLIP so that texts and images share "
                    f"one space; drop encoder= and {text_only or 'the text model'} (CLIP takes "
                    f"{list(_CLIP_SETTINGS)}), or use two SbertRagEmbeddings (one per store)"
                )
        elif encoder is not None and given:
            raise sbert_rag.ConfigError(
                f"a built encoder= carries its own settings; pass either encoder= or {given}, not both"
            )
        if encoder is not None and not isinstance(encoder, sbert_rag.Encoder):
            raise sbert_rag.ConfigError(
                "encoder must be an sbert_rag encoder (encode_queries, encode_passages, dim); "
                f"got {type(encoder).__name__}"
            )
        if model_path is not None:
            settings = {"model": model_path, **settings}  # model_path is the documented name of ``model``
        # one EncoderConfig holds every setting: unknown names and bad values are refused here
        resolved = EncoderConfig.from_dict({**(config or EncoderConfig()).to_dict(), **settings})
        super().__init__(config=None if encoder is not None or has_clip else resolved, clip_path=clip_path)
        self._encoder = encoder
        self._clip = clip
        self._clip_settings = {k: getattr(resolved, k) for k in _CLIP_SETTINGS if k in settings}

    # ------------------------------------------------------------------ models, loaded lazily
    @property
    def has_clip(self) -> bool:
        """Whether a CLIP model is attached (texts and images then share CLIP's space)."""
        return self._clip is not None or self.clip_path is not None

    @property
    def model_path(self) -> str | None:
        """The text model the adapter loads (``config.model``); None = packaged default or a built encoder."""
        return None if self.config is None else self.config.model

    @property
    def encoder(self) -> Any:
        """The model that embeds texts: the text encoder, or the ``CLIPEncoder`` when attached.

        Loads it on first access (thread-safe) with ``sbert_rag.load_encoder(config)``.
        """
        if self.has_clip:
            return self.clip
        with self._lock:
            if self._encoder is None:
                self._encoder = sbert_rag.load_encoder(self.config)
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

                self._clip = CLIPEncoder.load(self.clip_path, **self._clip_settings)
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
