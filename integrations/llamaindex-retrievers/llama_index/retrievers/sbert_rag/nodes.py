"""``sbert_rag.SearchHit`` -> LlamaIndex node, with the metadata keys LlamaIndex's own readers use.

Owns the one translation of a store hit into a node, shared by ``SbertRagRetriever`` and the
vector store package: ``file_path``/``file_name`` (as ``SimpleDirectoryReader`` names them),
``page``/``page_label`` (as its PDF reader does), ``title``, the chunk's ``start``/``end``
offsets (also the node's ``start_char_idx``/``end_char_idx``) and the record's own metadata.
Deliberately holds no search logic.
"""

from __future__ import annotations

from pathlib import PurePath

from llama_index.core.schema import BaseNode, ImageNode, TextNode

import sbert_rag

POSITION_KEYS = ("file_path", "start", "end", "page")
"""Keys left out of what the LLM and the embedder see (``file_name``, ``page_label``, ``title`` stay in)."""


def hit_metadata(hit: sbert_rag.SearchHit) -> dict[str, object]:
    """A hit's node metadata: the record's metadata, then the store's facts (which win on a clash).

    Keys: ``file_path`` and ``file_name`` when the record has a path (a folder's file, or a
    ``source`` given to ``Store.add_texts``), ``start``, ``end``, ``page`` and ``page_label``
    when the chunk has a PDF page, ``title`` when the document has one.
    """
    meta: dict[str, object] = dict(hit.metadata)
    if hit.path:
        meta["file_path"] = hit.path
        meta["file_name"] = PurePath(hit.path).name
    meta["start"] = hit.start
    meta["end"] = hit.end
    if hit.page is not None:
        meta["page"] = hit.page
        meta["page_label"] = str(hit.page)
    if hit.title:
        meta["title"] = hit.title
    return meta


def hit_to_node(hit: sbert_rag.SearchHit) -> BaseNode:
    """A ``TextNode`` for a chunk (an ``ImageNode`` for a stored image), ``id_`` = the record id."""
    meta = hit_metadata(hit)
    hidden = [key for key in POSITION_KEYS if key in meta]
    if hit.kind == "image":
        return ImageNode(
            id_=hit.id, image_path=hit.path or hit.text, metadata=meta,
            excluded_llm_metadata_keys=hidden, excluded_embed_metadata_keys=hidden,
        )
    return TextNode(
        id_=hit.id, text=hit.text, metadata=meta, start_char_idx=hit.start, end_char_idx=hit.end,
        excluded_llm_metadata_keys=hidden, excluded_embed_metadata_keys=hidden,
    )
