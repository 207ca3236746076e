"""The sidecars of a vector store: a saved ``BM25Index`` or ``DenseIndex`` stamped with the ids it covers.

Owns the sidecar folder: ``fingerprint.json`` names the fingerprint of the covered ids and the
subfolder that holds the index (``bm25-<first 16 hex digits>``). A new index is written into its
own subfolder first and ``fingerprint.json`` is then replaced in one rename, so a reader in
another process sees either the old sidecar or the new one, and a writer killed half-way leaves
the old one in place. Deliberately does not decide when to rebuild (the store does) and does not
read the vector store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sbert_rag.errors import ModelLoadError
from sbert_rag.indexing.records import ids_fingerprint
from sbert_rag.retrieval.bm25 import BM25Config, BM25Index

FINGERPRINT_FILE = "fingerprint.json"
_SUBFOLDER = re.compile(r"\Abm25-[0-9a-f]{16}(\.tmp-\d+)?\Z")


def save_sidecar(index: Any, folder: str | Path) -> Path:
    """Write ``index`` into ``folder`` and make it the current sidecar; older ones are removed.

    Args:
        index: a built, non-empty index (anything with ``ids`` and ``save(folder)``: a
            ``BM25Index``, a ``DenseIndex``, a ``RecordTable``).
        folder: the sidecar folder (created if missing).

    Returns:
        The subfolder holding the index.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    fingerprint = ids_fingerprint(index.ids)
    name = f"bm25-{fingerprint[:16]}"
    scratch = root / f"{name}.tmp-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    index.save(scratch)
    final = root / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(scratch, final)
    tmp = root / f"{FINGERPRINT_FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps({"ids_sha256": fingerprint, "index": name}), encoding="utf-8")
    os.replace(tmp, root / FINGERPRINT_FILE)
    for entry in root.iterdir():
        # only our own subfolders: the folder may hold a user's files too
        if entry.name != name and _SUBFOLDER.match(entry.name):
            shutil.rmtree(entry, ignore_errors=True)
    return final


def load_sidecar(
    folder: str | Path, ids: Sequence[str], config: BM25Config | None = None,
    *, loader: Callable[[Path], Any] | None = None,
) -> Any:
    """The saved index when it covers exactly ``ids`` (under ``config``); None when missing or stale.

    Args:
        folder: the sidecar folder.
        ids: the ids the store holds now.
        config: the BM25 options the store searches with (a BM25 sidecar).
        loader: reads another kind of index from its subfolder (e.g. ``DenseIndex.load``);
            None = ``BM25Index.load``, checked against ``config``.

    Returns:
        The loaded index, or None when there is none, it covers other ids, was built with other
        options, or was replaced by a writer while being read (the caller rebuilds).
    """
    return load_sidecar_at(folder, ids_fingerprint(ids), config, loader=loader)


def load_sidecar_at(
    folder: str | Path, fingerprint: str, config: BM25Config | None = None,
    *, loader: Callable[[Path], Any] | None = None,
) -> Any:
    """``load_sidecar`` for ids known only by their fingerprint (``ids_fingerprint``)."""
    root = Path(folder)
    try:
        saved = json.loads((root / FINGERPRINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = saved.get("index") if isinstance(saved, dict) else None
    if not isinstance(name, str) or not _SUBFOLDER.match(name) or saved.get("ids_sha256") != fingerprint:
        return None
    try:
        index = (loader or BM25Index.load)(root / name)
    except (ModelLoadError, OSError, ValueError):
        return None  # removed or half-written by a concurrent writer
    if loader is None and index.config != config:
        return None
    return index


def sidecar_fingerprint(folder: str | Path) -> str | None:
    """The fingerprint recorded in ``folder``, or None when there is no readable sidecar."""
    try:
        saved = json.loads((Path(folder) / FINGERPRINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = saved.get("ids_sha256") if isinstance(saved, dict) else None
    return value if isinstance(value, str) else None


def clear_sidecar(folder: str | Path) -> None:
    """Remove the sidecar (used when the store became empty); other files are left alone."""
    root = Path(folder)
    if not root.is_dir():
        return
    (root / FINGERPRINT_FILE).unlink(missing_ok=True)
    for entry in root.iterdir():
        if _SUBFOLDER.match(entry.name):
            shutil.rmtree(entry, ignore_errors=True)
