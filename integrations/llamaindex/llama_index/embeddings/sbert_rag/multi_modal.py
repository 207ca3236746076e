"""LlamaIndex ``MultiModalEmbedding`` over an sbert_rag ``CLIPEncoder``.

Targets llama-index-core 0.13-0.14 (tested with 0.14.25). Owns handing LlamaIndex's images
(file paths, or ``BytesIO`` for base64 and downloaded images, as ``ImageNode.resolve_image``
gives them) and texts to one CLIP model, so texts and images share a space (what
``MultiModalVectorStoreIndex`` needs for text-to-image retrieval). Each ``embed_batch_size``
batch is one encoder call. Deliberately fetches no URLs and holds no model code.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Literal

from llama_index.core.base.embeddings.base import Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.callbacks import CallbackManager
from llama_index.core.embeddings import MultiModalEmbedding
from llama_index.core.schema import ImageType

import sbert_rag
from llama_index.embeddings.sbert_rag._threaded import ThreadedTextAsync

Overflow = Literal["warn", "error", "windows"]


class SbertRagMultiModalEmbedding(ThreadedTextAsync, MultiModalEmbedding):
    """CLIP image and text embeddings for LlamaIndex, from sbert_rag.

    Needs a CLIP model: a built ``CLIPEncoder`` (``SbertRagMultiModalEmbedding(clip)``) or a
    folder saved by ``CLIPEncoder.save`` (``clip_path=``, loaded on first use). There is no
    packaged CLIP model, so there is no no-argument default.

    Queries and texts both go through CLIP's text tower (CLIP has no query prompt). A bad image
    (missing file, not an image) raises ``sbert_rag.InvalidInputError`` naming its index and
    path; an empty text raises it too.

    Example:
        >>> from llama_index.core.indices import MultiModalVectorStoreIndex
        >>> clip = SbertRagMultiModalEmbedding(clip_path="/models/my-clip")
        >>> index = MultiModalVectorStoreIndex.from_documents(
        ...     docs, storage_context=sc, embed_model=SbertRagEmbedding(), image_embed_model=clip)

    Attributes:
        clip_path: folder of a saved ``CLIPEncoder``; None when a built one was passed.
        device: ``"auto"`` or a torch device, used when the adapter loads the model.
        overflow: texts longer than CLIP's 77 tokens: ``"warn"``, ``"error"`` or ``"windows"``.
    """

    clip_path: str | None = Field(default=None, description="Folder saved by CLIPEncoder.save.")
    device: str = Field(default="auto", description="Torch device for a model the adapter loads.")
    overflow: Overflow = Field(default="warn", description="Policy for texts longer than CLIP reads.")

    _clip: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        clip: Any = None,
        *,
        clip_path: str | None = None,
        device: str = "auto",
        overflow: Overflow = "warn",
        model_name: str | None = None,
        embed_batch_size: int = 32,
        callback_manager: CallbackManager | None = None,
        num_workers: int | None = None,
        embeddings_cache: Any | None = None,
    ) -> None:
        """Configure the adapter.

        Args:
            clip: a built ``sbert_rag.image.CLIPEncoder``.
            clip_path: a folder saved by ``CLIPEncoder.save``, loaded on first use.
            device: torch device for a model the adapter loads.
            overflow: overflow policy for a model the adapter loads.
            model_name: a label; None = ``clip_path`` or ``"sbert_rag-clip"``.
            embed_batch_size: images or texts per encoder call.
            callback_manager: LlamaIndex callbacks.
            num_workers: LlamaIndex's async worker count.
            embeddings_cache: LlamaIndex's optional ``BaseKVStore`` embedding cache.

        Raises:
            sbert_rag.ConfigError: neither or both of ``clip`` and ``clip_path`` were given.
        """
        if (clip is None) == (clip_path is None):
            raise sbert_rag.ConfigError(
                "SbertRagMultiModalEmbedding needs exactly one CLIP model: clip=CLIPEncoder(...) or "
                "clip_path='folder saved by CLIPEncoder.save' (there is no packaged CLIP model)"
            )
        super().__init__(
            model_name=model_name or (str(clip_path) if clip_path is not None else "sbert_rag-clip"),
            clip_path=None if clip_path is None else str(clip_path), device=device, overflow=overflow,
            embed_batch_size=embed_batch_size, callback_manager=callback_manager, num_workers=num_workers,
            embeddings_cache=embeddings_cache,
        )
        self._clip = clip

    @classmethod
    def class_name(cls) -> str:
        """Name LlamaIndex stores in ``to_dict`` output."""
        return "SbertRagMultiModalEmbedding"

    @property
    def clip(self) -> Any:
        """The ``CLIPEncoder``, loaded on first access (thread-safe)."""
        with self._lock:
            if self._clip is None:
                from sbert_rag import CLIPEncoder

                self._clip = CLIPEncoder.load(self.clip_path, device=self.device, overflow=self.overflow)
            return self._clip

    # ------------------------------------------------------------------ texts
    def _get_query_embedding(self, query: str) -> Embedding:
        return self.clip.encode_texts([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.clip.encode_texts([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.clip.encode_texts(texts).tolist()

    # ------------------------------------------------------------------ images
    def _get_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return self.clip.encode_images([img_file_path])[0].tolist()

    def _get_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        return self.clip.encode_images(list(img_file_paths)).tolist()

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return await asyncio.to_thread(self._get_image_embedding, img_file_path)

    async def _aget_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_image_embeddings, img_file_paths)
