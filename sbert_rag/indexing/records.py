"""Record ids and whole-collection reads shared by every Chroma-backed store.

Owns three small facts about records kept in a Chroma collection: a record id is the SHA-256 of
its content (so writing the same passage twice stores it once), a set of ids has one fingerprint
(so a sidecar built from those records can tell whether it is still current), and a whole
collection is read in pages. Collections are duck-typed (anything with Chroma's ``get``), so this
module never imports chromadb.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

PAGE_SIZE = 5000  # records per collection.get call when reading a whole collection


def content_id(text: str, doc_id: str = "") -> str:
    """Record id of a passage: SHA-256 (hex) of its document id and text, so equal content gets one id."""
    return hashlib.sha256(f"{doc_id}\x00{text}".encode()).hexdigest()


def ids_fingerprint(ids: Iterable[str]) -> str:
    """SHA-256 (hex) of a set of ids, order ignored.

    Ids are content hashes, so the fingerprint pins the exact passages a sidecar was built from.
    """
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


@dataclass
class CollectionRows:
    """Every record of a collection, in the collection's order, each id once.

    Attributes:
        ids: record ids.
        documents: stored texts (empty unless asked for).
        metadatas: stored metadata dicts (empty unless asked for; ``{}`` for a record without).
        embeddings: stored vectors, one array each (empty unless asked for).
    """

    ids: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    metadatas: list[dict[str, Any]] = field(default_factory=list)
    embeddings: list[Any] = field(default_factory=list)


def read_collection(collection: Any, include: Sequence[str] = (), *, page_size: int = PAGE_SIZE) -> CollectionRows:
    """Read all records of a Chroma collection in pages of ``page_size``.

    A collection written by another process while it is read can shift records between pages;
    an id seen twice is kept once (its first copy), so the result never holds duplicates.

    Args:
        collection: a Chroma ``Collection`` (or anything with the same ``get``).
        include: what to read besides ids: ``"documents"``, ``"metadatas"``, ``"embeddings"``.
        page_size: records per ``get`` call.

    Returns:
        The records' ids and, when asked for, their documents and metadatas.
    """
    rows = CollectionRows()
    seen: set[str] = set()
    offset = 0
    while True:
        page = collection.get(limit=page_size, offset=offset, include=list(include))
        got = page["ids"]
        documents = page.get("documents") or [None] * len(got)
        metadatas = page.get("metadatas") or [None] * len(got)
        embeddings = page.get("embeddings")
        if embeddings is None:
            embeddings = [None] * len(got)
        for rid, doc, meta, vector in zip(got, documents, metadatas, embeddings):
            if rid in seen:
                continue
            seen.add(rid)
            rows.ids.append(rid)
            if "documents" in include:
                rows.documents.append(doc or "")
            if "metadatas" in include:
                rows.metadatas.append(dict(meta or {}))
            if "embeddings" in include:
                rows.embeddings.append(vector)
        offset += len(got)
        if len(got) < page_size:
            return rows
