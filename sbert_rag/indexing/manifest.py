"""``store.json``: what a store was built with, and the checks that keep one store one vector space.

Owns the manifest of a store folder: format version, the indexed folder, the text model's vector
identity (``sbert_rag.encoding.identity``), the CLIP model (path and dimension) when images are
indexed, the chunking and BM25 settings, and timestamps. Written atomically (a temporary file
renamed over the old one), so a reader never sees half a manifest. Every ``check_*`` refusal
names what the store holds, what was asked for, and the fix. Deliberately loads no model.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sbert_rag.encoding.identity import PACKAGED_MODEL, config_differences
from sbert_rag.errors import ConfigError, ModelLoadError

FORMAT_VERSION = 1
MANIFEST_FILE = "store.json"


@dataclass
class Manifest:
    """The contents of ``store.json``.

    Attributes:
        root: absolute path of the indexed folder; record paths are relative to it.
        model: vector identity of the text model (``vector_config``: model, dim, pooling, ...).
        chunking: ``max_tokens``, ``overlap_tokens``, ``include_title`` of the chunker.
        bm25: the ``BM25Config`` fields of the sidecar.
        clip: ``{"path": folder, "dim": n}`` of the CLIP model, or None when no images are indexed.
        encoder: the text model's ``EncoderConfig`` as resolved when the store was created, less
            the settings of the machine (device, dtype, batch sizes, forward path); searches and
            later writes load the model with it, so custom prompts or pooling stay in force.
        format_version: layout version of the store folder.
        created: when the store was created (local time, ISO 8601).
        updated: when an index run last finished.
    """

    root: str
    model: dict[str, Any]
    chunking: dict[str, Any]
    bm25: dict[str, Any]
    clip: dict[str, Any] | None = None
    encoder: dict[str, Any] | None = None
    format_version: int = FORMAT_VERSION
    created: str = field(default_factory=lambda: _now())
    updated: str = ""

    @property
    def model_name(self) -> str:
        """The text model's recorded name (a folder path or ``packaged:all-MiniLM-L6-v2``)."""
        return str(self.model.get("model", "?"))

    @property
    def dim(self) -> int:
        """The text model's embedding dimension."""
        return int(self.model.get("dim", 0))

    @classmethod
    def read(cls, store: Path) -> Manifest | None:
        """Read ``store/store.json``; None when the folder holds no manifest.

        Raises:
            ModelLoadError: the file is unreadable, not JSON, or from another format version.
        """
        path = store / MANIFEST_FILE
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"{str(path)!r} cannot be read as a store manifest: {err}") from err
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION or not known >= set(data):
            raise ModelLoadError(
                f"{str(path)!r} is not a format {FORMAT_VERSION} sbert-rag store manifest; "
                f"index into a new store folder"
            )
        try:
            return cls(**data)
        except TypeError as err:
            raise ModelLoadError(f"{str(path)!r} lacks a required field ({err}); index into a new store folder") from err

    def write(self, store: Path) -> None:
        """Write ``store/store.json`` atomically."""
        store.mkdir(parents=True, exist_ok=True)
        tmp = store / f"{MANIFEST_FILE}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, store / MANIFEST_FILE)

    def touch(self) -> None:
        """Set ``updated`` to now."""
        self.updated = _now()


def requested_model_name(model: str | None) -> str | None:
    """The name a ``--model`` value is recorded under; None when no model was asked for.

    An existing folder is recorded by its absolute path, so the store works from any directory.
    """
    if model is None:
        return None
    if model == PACKAGED_MODEL:
        return PACKAGED_MODEL
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model


def check_requested_models(manifest: Manifest, model: str | None, clip: str | None, store: Path) -> None:
    """Refuse a ``--model`` or ``--clip`` other than the recorded one (before anything is loaded).

    Args:
        manifest: the store's manifest.
        model: the requested text model's recorded form (``requested_model_name``), or None.
        clip: the requested CLIP folder (absolute), or None.
        store: the store folder, for the message.

    Raises:
        ConfigError: a requested model differs from the recorded one; both are named.
    """
    recorded_clip = manifest.clip or {}
    for what, recorded, dim, asked in (
        ("model", manifest.model_name, manifest.dim, model),
        ("CLIP model", recorded_clip.get("path"), recorded_clip.get("dim"), clip),
    ):
        if asked is not None and recorded is not None and asked != recorded:
            raise ConfigError(
                f"store {str(store)!r} was built with {what} {recorded!r} (dim {dim}); refusing {what} "
                f"{asked!r}: vectors of two models cannot be compared. Leave the {what} out to use the "
                f"recorded one, or use another store (folder or collection) for {asked!r}.",
                settings=(("model" if what == "model" else "clip"), "path"),
            )


def check_vectors(manifest: Manifest, loaded: dict[str, Any], store: Path) -> None:
    """Refuse a loaded model whose vector identity differs from the recorded one.

    Args:
        manifest: the store's manifest.
        loaded: ``vector_config`` of the model just loaded.
        store: the store folder, for the message.

    Raises:
        ConfigError: a setting differs (the folder changed since); every difference is named.
    """
    _refuse_changes(
        manifest.model, loaded, store,
        f"was built with model {manifest.model_name!r} (dim {manifest.dim}), but the model loaded now is "
        f"{loaded.get('model')!r} (dim {loaded.get('dim')}) and gives other vectors",
        "Restore the recorded model, or index into another store (folder or collection).", ("path",),
    )


def check_chunking(manifest: Manifest, requested: dict[str, Any], store: Path) -> None:
    """Refuse chunking options that differ from the recorded ones.

    Args:
        manifest: the store's manifest.
        requested: ``max_tokens`` and ``overlap_tokens`` as asked for; None values are not checked.
        store: the store folder, for the message.

    Raises:
        ConfigError: a setting differs; both values are named.
    """
    asked = {k: v for k, v in requested.items() if v is not None}
    _refuse_changes(
        {k: manifest.chunking.get(k) for k in asked}, asked, store,
        "was chunked with other settings, and chunks of both would stay",
        "Leave the setting out to use the recorded value, or use another store (folder or collection).",
        ("max_tokens", "overlap_tokens", "path"),
    )


def check_root(manifest: Manifest, root: Path, store: Path, *, moved: bool) -> None:
    """Refuse to index a folder other than the recorded one, unless it is the same folder moved.

    Raises:
        ConfigError: the folders differ and ``moved`` is False; both are named.
    """
    if str(root) != manifest.root and not moved:
        raise ConfigError(
            f"store {str(store)!r} indexes folder {manifest.root!r}, not {str(root)!r}: their files would mix "
            f"(and pruning would remove the other folder's). Use another store (folder or collection) for {str(root)!r}, or "
            f"say the folder moved (moved=True) if {manifest.root!r} was moved there.",
            settings=("path", "moved"),
        )


def _refuse_changes(
    recorded: dict[str, Any], new: dict[str, Any], store: Path, what: str, fix: str, settings: tuple[str, ...]
) -> None:
    details = config_differences(recorded, new)
    if details:
        raise ConfigError(f"store {str(store)!r} {what} ({details}). {fix}", settings=settings)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
