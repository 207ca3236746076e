"""The async side of both adapters: LlamaIndex's async text hooks run the sync ones in a worker thread.

Owns only that: encoding is CPU/GPU-bound, so a thread keeps the event loop free without a second
code path. Mixed in before the LlamaIndex base class.
"""

from __future__ import annotations

import asyncio
from typing import Any


class ThreadedTextAsync:
    """``_aget_query_embedding``, ``_aget_text_embedding``, ``_aget_text_embeddings`` via ``asyncio.to_thread``."""

    async def _aget_query_embedding(self, query: str) -> Any:
        return await asyncio.to_thread(self._get_query_embedding, query)  # type: ignore[attr-defined]

    async def _aget_text_embedding(self, text: str) -> Any:
        return await asyncio.to_thread(self._get_text_embedding, text)  # type: ignore[attr-defined]

    async def _aget_text_embeddings(self, texts: list[str]) -> Any:
        return await asyncio.to_thread(self._get_text_embeddings, texts)  # type: ignore[attr-defined]
