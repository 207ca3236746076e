"""The models of a store, loaded on first use and checked against what the store recorded.

Owns resolving which text model and CLIP model a command uses (the ones the store recorded,
unless ``--model``/``--clip`` name others, which is refused), loading them only when something
must be chunked or embedded (a re-run over an unchanged folder loads neither), checking each
loaded model's vector identity against the manifest, and building the chunker from the recorded
chunking settings. Deliberately does not write the manifest (the indexer does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbert_rag.chunking import Chunker, ChunkerConfig
from sbert_rag.config import EncoderConfig
from sbert_rag.encoding.identity import vector_config
from sbert_rag.errors import ConfigError
from sbert_rag.indexing.manifest import Manifest, check_requested_models, check_vectors, requested_model_name


@dataclass(frozen=True)
class ModelOptions:
    """How to load the models: what was asked for on the command line, and where to run them.

    Attributes:
        model: ``--model`` (folder, Hub id or ``packaged:all-MiniLM-L6-v2``); None = the store's.
        clip: ``--clip`` folder written by ``CLIPEncoder.save``; None = the store's, if any.
        device: torch device string or ``"auto"``.
        dtype: compute dtype of the text model (``auto``, ``float32``, ...).
        batch_size: texts or images per forward pass.
        encoder: the whole text encoder config (its ``model`` wins over ``model``); None = the
            store's recorded one with ``device``, ``dtype`` and ``batch_size`` from here.
    """

    model: str | None = None
    clip: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = EncoderConfig.batch_size
    encoder: EncoderConfig | None = None


_MACHINE_SETTINGS = ("device", "dtype", "batch_size", "max_batch_tokens", "packed")


class StoreModels:
    """Lazily loaded text model, chunker and CLIP model of one store."""

    def __init__(self, store_path: Path, manifest: Manifest | None, options: ModelOptions) -> None:
        """Resolve the requested models against ``manifest`` (None for a store being created).

        Raises:
            ConfigError: ``--model`` or ``--clip`` names another model than the store recorded
                (both named), or ``--clip`` is not a folder.
        """
        self.store_path = store_path
        self.manifest = manifest
        self.options = options
        asked = options.encoder.model if options.encoder is not None and options.encoder.model else options.model
        self.model_name = requested_model_name(asked)
        self.clip_path = _clip_path(options.clip)
        if manifest is not None:
            check_requested_models(manifest, self.model_name, self.clip_path, store_path)
            self.model_name = manifest.model_name
            if self.clip_path is None and manifest.clip:
                self.clip_path = str(manifest.clip["path"])
        self._text: Any = None
        self._clip: Any = None

    @property
    def has_clip(self) -> bool:
        """Whether images are indexed and searched (a CLIP model was given or recorded)."""
        return self.clip_path is not None

    @property
    def text(self) -> Any:
        """The ``TextEncoder``, loaded on first use and checked against the manifest."""
        if self._text is None:
            from sbert_rag.encoding.dual import load_encoder

            encoder = load_encoder(self.encoder_config())
            if self.manifest is not None:
                check_vectors(self.manifest, self._identity(encoder), self.store_path)
            self._text = encoder
        return self._text

    def encoder_config(self) -> EncoderConfig:
        """The config the text model loads with: the one given, else the store's recorded settings."""
        given = self.options.encoder
        if given is not None:
            return given.replace(model=self.model_name) if self.model_name is not None else given
        recorded = dict((self.manifest.encoder or {}) if self.manifest is not None else {})
        recorded.update(model=self.model_name, device=self.options.device, dtype=self.options.dtype,
                        batch_size=self.options.batch_size)
        return EncoderConfig.from_dict(recorded)

    def recorded_encoder(self) -> dict[str, Any]:
        """What a manifest records of the loaded text model's config (loads it): no machine settings."""
        config = self.text.config.to_dict()
        config["model"] = self.model_name if self.model_name is not None else config["model"]
        return {k: v for k, v in config.items() if k not in _MACHINE_SETTINGS}

    def identity(self) -> dict[str, Any]:
        """The text model's vector identity as recorded in a manifest (loads the model)."""
        return self._identity(self.text)

    def _identity(self, encoder: Any) -> dict[str, Any]:
        # named as asked for (a folder's absolute path, a Hub id, the packaged default), not by
        # the cache folder a Hub id resolves to
        identity = vector_config(encoder)
        if self.model_name is not None:
            identity["model"] = self.model_name
        return identity

    @property
    def clip(self) -> Any:
        """The ``CLIPEncoder``, loaded on first use; None without a CLIP model."""
        if self._clip is None and self.clip_path is not None:
            from sbert_rag.image.clip_encoder import CLIPEncoder

            clip = CLIPEncoder.load(self.clip_path, device=self.options.device, batch_size=self.options.batch_size)
            recorded = (self.manifest.clip or {}) if self.manifest is not None else {}
            if recorded and recorded.get("dim") != clip.dim:
                raise ConfigError(
                    f"store {str(self.store_path)!r} holds CLIP vectors of dim {recorded.get('dim')}, but the "
                    f"CLIP model in {self.clip_path!r} now gives dim {clip.dim}. Restore that model, or index "
                    f"into another store (folder or collection).",
                    settings=("clip", "path"),
                )
            self._clip = clip
        return self._clip

    def clip_identity(self) -> dict[str, Any] | None:
        """``{"path", "dim"}`` of the CLIP model (loads it), or None without one."""
        return None if self.clip is None else {"path": self.clip_path, "dim": int(self.clip.dim)}

    def chunker(self, chunking: dict[str, Any]) -> Chunker:
        """A chunker over the text model (loads it) with ``max_tokens`` (None or absent = the model's
        limit), ``overlap_tokens`` (default 32) and ``include_title`` (default True) from ``chunking``.
        """
        config = ChunkerConfig(
            max_tokens=chunking.get("max_tokens"),
            overlap_tokens=int(chunking.get("overlap_tokens", 32)),
            include_title=bool(chunking.get("include_title", True)),
        )
        return Chunker(self.text, config)


def _clip_path(clip: str | None) -> str | None:
    if clip is None:
        return None
    path = Path(clip).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"CLIP model {clip!r} is not a folder; pass a folder written by sbert_rag.image.CLIPEncoder.save"
        )
    return str(path.resolve())
