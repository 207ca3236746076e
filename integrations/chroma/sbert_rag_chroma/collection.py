"""Open a Chroma collection with an sbert_rag function: a store's own, or any, model-checked.

Chroma itself compares only function names when a collection is reopened with a function
(``get_collection(name, embedding_function=...)``): the same name with another model passes, and
the mismatch surfaces later as a dimension error, or never when the dimensions agree. This module
translates: a store folder (``sbert_rag.Store``) to its Chroma collection bound to the function
its manifest describes (``sbert_rag.chroma_function.store_function``), and any collection to one
whose persisted config must describe the same vectors as the function given. It holds no search,
id or model logic of its own.
"""

from __future__ import annotations

import os
from typing import Any

from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import NotFoundError

import sbert_rag
from sbert_rag.chroma_function import SbertRagEmbeddingFunction, check_same_vectors, store_function


def open_collection(
    store_or_client: sbert_rag.Store | str | os.PathLike[str] | ClientAPI,
    name: str | None = None,
    embedding_function: Any = None,
    *,
    create: bool = True,
    metadata: dict[str, Any] | None = None,
    data_loader: Any = None,
) -> Collection:
    """Get a collection bound to an sbert_rag function; refuse one embedded with another model.

    Given a store (a ``sbert_rag.Store`` or its folder), opens its ``chunks`` (or ``images``)
    collection in ``STORE/chroma`` with the function its manifest records, so ``query_texts``
    embeds with the store's model and query prompt. Read it there; write through
    ``sbert_rag.Store``, which keeps the store's exact dense and BM25 sidecars and its lock (a
    write made through Chroma is seen by the store, whose sidecars are then rebuilt from the
    records). Works on stores written before collections recorded a function.

    Given a Chroma client, gets collection ``name`` (or creates it), bound to ``embedding_function``.

    Args:
        store_or_client: a ``sbert_rag.Store``, a store folder, or any Chroma client (persistent,
            in-memory or HTTP).
        name: store: ``"chunks"`` (None) or ``"images"``; client: the collection name (3-512
            characters from ``[a-zA-Z0-9._-]``), required.
        embedding_function: an ``SbertRagEmbeddingFunction`` or ``SbertRagCLIPEmbeddingFunction``;
            None = the store's (store) or ``SbertRagEmbeddingFunction()``, the packaged default
            model (client).
        create: client only: create the collection when it does not exist (cosine space).
        metadata: client only: collection metadata, used only when creating.
        data_loader: Chroma data loader for ``uris`` (e.g. ``ImageLoader()`` with the CLIP function).

    Returns:
        The collection, bound to the function.

    Raises:
        sbert_rag.ConfigError: the folder holds no store, the store holds no such collection yet,
            or the collection (or, for a store, its manifest) was embedded with another function
            or model; the message names both models and every setting that differs.
        chromadb.errors.NotFoundError: client: it does not exist and ``create`` is False.
    """
    if isinstance(store_or_client, (str, os.PathLike, sbert_rag.Store)):
        return _open_store_collection(store_or_client, name or "chunks", embedding_function, data_loader)
    if name is None:
        raise sbert_rag.ConfigError("pass the collection name: open_collection(client, name, ...)")
    client = store_or_client
    ef = embedding_function if embedding_function is not None else SbertRagEmbeddingFunction()
    try:
        existing = client.get_collection(name)  # no function: nothing is rebuilt or loaded
    except NotFoundError:
        if not create:
            raise
        return client.create_collection(
            name, embedding_function=ef, metadata=metadata, data_loader=data_loader
        )
    _check_persisted(existing, ef, f"collection {name!r}", allow_none=False)
    return client.get_collection(name, embedding_function=ef, data_loader=data_loader)


def _open_store_collection(
    store: sbert_rag.Store | str | os.PathLike[str], name: str, embedding_function: Any, data_loader: Any
) -> Collection:
    store = store if isinstance(store, sbert_rag.Store) else sbert_rag.Store.open(store)
    info = store.info()  # refuses a folder whose store has no manifest yet
    kinds = {"chunks": "text", "images": "image"}
    if name not in kinds:
        raise sbert_rag.ConfigError(f"a store's collections are {sorted(kinds)}; got {name!r}")
    recorded = store_function(kinds[name], info["model_config"], info["clip"])
    where = f"collection {name!r} of store {store.location!r}"
    ef = recorded
    if embedding_function is not None:
        _check_function(recorded, embedding_function, where)
        ef = embedding_function
    client = store.records.connect()  # a folder's embedded database: one client per path, as the store's own
    stored_name = store.records.collection_names[kinds[name]]
    try:
        existing = client.get_collection(stored_name)
    except NotFoundError as err:
        raise sbert_rag.ConfigError(
            f"store {store.location!r} holds no {name!r} collection yet; add a folder or texts to it first"
        ) from err
    # a store written before collections recorded their function holds none: its manifest speaks
    _check_persisted(existing, recorded, where, allow_none=True)
    return client.get_collection(stored_name, embedding_function=ef, data_loader=data_loader)


def _check_function(expected: Any, given: Any, where: str) -> None:
    if given.name() != expected.name():
        raise sbert_rag.ConfigError(
            f"{where} is embedded with function {expected.name()!r}; refusing {given.name()!r}. "
            f"Leave embedding_function out to use the store's."
        )
    if expected.name() == SbertRagEmbeddingFunction.name():
        check_same_vectors(expected.get_config(), given.get_config(), where)
    else:
        expected.validate_config_update(expected.get_config(), given.get_config())


def _check_persisted(collection: Collection, ef: Any, where: str, *, allow_none: bool) -> None:
    persisted = (collection.configuration_json or {}).get("embedding_function") or {}
    if persisted.get("type") != "known" and allow_none:
        return
    if persisted.get("type") != "known" or persisted.get("name") != ef.name():
        described = persisted.get("name") or persisted.get("type") or "none"
        raise sbert_rag.ConfigError(
            f"{where} holds embedding function {described!r}, not {ef.name()!r} with model "
            f"{ef.get_config().get('model', ef.get_config())!r}: its vectors were not made by this model. "
            f"Use a new collection."
        )
    _check_function(type(ef).build_from_config(persisted.get("config") or {}), ef, where)
