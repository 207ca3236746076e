"""Open a Chroma collection with an sbert_rag function, refusing one built with another model.

Chroma itself compares only function names when a collection is reopened with a function
(``get_collection(name, embedding_function=...)``): the same name with another model passes, and
the mismatch surfaces later as a dimension error, or never when the dimensions agree. This module
owns the stricter check: the persisted config must describe the same vectors as the new function's.
"""

from __future__ import annotations

from typing import Any

from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import NotFoundError

import sbert_rag
from sbert_rag_chroma.embedding_function import SbertRagEmbeddingFunction, check_same_vectors


def open_collection(
    client: ClientAPI,
    name: str,
    embedding_function: Any = None,
    *,
    create: bool = True,
    metadata: dict[str, Any] | None = None,
    data_loader: Any = None,
) -> Collection:
    """Get collection ``name`` with ``embedding_function``, or create it; refuse a model mismatch.

    Args:
        client: any Chroma client (persistent, in-memory or HTTP).
        name: collection name (3-512 characters from ``[a-zA-Z0-9._-]``).
        embedding_function: an ``SbertRagEmbeddingFunction`` or ``SbertRagCLIPEmbeddingFunction``;
            None = ``SbertRagEmbeddingFunction()`` (the packaged default model).
        create: create the collection when it does not exist (in the function's default space, cosine).
        metadata: collection metadata, used only when creating.
        data_loader: Chroma data loader for ``uris`` (e.g. ``ImageLoader()`` with the CLIP function).

    Returns:
        The collection, bound to ``embedding_function``.

    Raises:
        sbert_rag.ConfigError: the collection was embedded with another function or model; the
            message names both models and every setting that differs.
        chromadb.errors.NotFoundError: it does not exist and ``create`` is False.
    """
    ef = embedding_function if embedding_function is not None else SbertRagEmbeddingFunction()
    try:
        existing = client.get_collection(name)  # no function: nothing is rebuilt or loaded
    except NotFoundError:
        if not create:
            raise
        return client.create_collection(
            name, embedding_function=ef, metadata=metadata, data_loader=data_loader
        )
    persisted = (existing.configuration_json or {}).get("embedding_function") or {}
    if persisted.get("type") != "known" or persisted.get("name") != ef.name():
        described = persisted.get("name") or persisted.get("type") or "none"
        raise sbert_rag.ConfigError(
            f"collection {name!r} holds embedding function {described!r}, not {ef.name()!r} with model "
            f"{ef.get_config().get('model', ef.get_config())!r}: its vectors were not made by this model. "
            f"Use a new collection."
        )
    if isinstance(ef, SbertRagEmbeddingFunction):
        check_same_vectors(persisted.get("config") or {}, ef.get_config(), f"collection {name!r}")
    else:
        ef.validate_config_update(persisted.get("config") or {}, ef.get_config())
    return client.get_collection(name, embedding_function=ef, data_loader=data_loader)
