"""LlamaIndex nodes <-> sbert_rag store records, for ``SbertRagVectorStore``.

Owns what a node becomes in the store (its text, its metadata flattened to scalars, plus
``ref_doc_id``, ``node_id`` and its character offsets) and what a stored record becomes again:
a node added through LlamaIndex comes back with its own metadata and source document; any other
record (a folder indexed by ``Store.add_folder``) comes back as ``SbertRagRetriever`` returns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.retrievers.sbert_rag import hit_to_node
from llama_index.vector_stores.sbert_rag.filters import NODE_ID, REF_DOC_ID

import sbert_rag

START, END = "start_char_idx", "end_char_idx"
BOOKKEEPING = (REF_DOC_ID, NODE_ID, START, END)
"""Metadata keys the vector store writes beside the node's own (refused in node metadata)."""


def record_metadata(node: BaseNode) -> dict[str, Any]:
    """The node's metadata flattened to scalars, plus ``ref_doc_id``, ``node_id`` and its offsets.

    Nested dicts become dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``); None values are
    dropped (the store keeps none).

    Raises:
        ValueError: a value is a list or another non-scalar (named, with the node id), or a key is
            one the vector store writes itself.
    """
    meta = _flatten(node.metadata, "", node.node_id)
    taken = sorted(set(BOOKKEEPING) & set(meta))
    if taken:
        raise ValueError(
            f"node {node.node_id!r} has metadata key(s) {taken}, which SbertRagVectorStore writes itself "
            f"({list(BOOKKEEPING)}); rename them"
        )
    meta[REF_DOC_ID] = node.ref_doc_id
    meta[NODE_ID] = node.node_id
    if isinstance(node, TextNode):
        meta[START], meta[END] = node.start_char_idx, node.end_char_idx
    return {key: value for key, value in meta.items() if value is not None}


def hit_node(hit: sbert_rag.SearchHit) -> BaseNode:
    """The node for a hit: as added (``node_id`` recorded) or as ``SbertRagRetriever`` builds it."""
    if NODE_ID not in hit.metadata:
        return hit_to_node(hit)
    meta = {key: value for key, value in hit.metadata.items() if key not in BOOKKEEPING}
    source = hit.metadata.get(REF_DOC_ID)
    relationships = {} if source is None else {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=str(source))}
    return TextNode(
        id_=hit.id, text=hit.text, metadata=meta, relationships=relationships,
        start_char_idx=hit.metadata.get(START), end_char_idx=hit.metadata.get(END),
    )


def _flatten(meta: Mapping[str, Any], prefix: str, node_id: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in meta.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}.", node_id))
        elif value is None or isinstance(value, (str, int, float, bool)):
            flat[name] = value
        else:
            raise ValueError(
                f"node {node_id!r} metadata {name!r} holds {type(value).__name__} {value!r}; the store keeps "
                f"str, int, float and bool values (nested dicts are flattened): store it as a string"
            )
    return flat
