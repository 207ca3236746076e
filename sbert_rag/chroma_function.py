"""Chroma 1.x embedding functions over sbert_rag models: ``sbert_rag`` (text) and ``sbert_rag_clip``.

Targets chromadb 1.x (tested with 1.5.9). Owns Chroma's persistence contract for our models:
``name`` / ``get_config`` / ``build_from_config`` / ``validate_config`` round-trip through a
collection's configuration, so a collection reopened in another process rebuilds the function
that made its vectors. The store (``sbert_rag.indexing.store``) creates its collections with
these functions' configs (``for_store``), and ``sbert_rag_chroma`` re-exports them.

Chroma finds a persisted function only through its in-process registry (no entry points), so
importing this module registers both names; ``import sbert_rag`` never imports it (nothing runs
at import), while opening a store's collections and ``import sbert_rag_chroma`` do. The configs
hold what fixes the vectors (model, dimension, pooling, normalisation, prompts, token limit,
overflow policy; the CLIP folder and dimension), never the device or the compute dtype, which
belong to the machine. ``build_from_config`` loads nothing: Chroma calls it on every create, add
and query, so models load on the first embedding call, once per process and config, through
``load_encoder`` (so a query/passage pair folder works as a single model does), and are checked
against the persisted config with ``config_differences``, the one test of "same vectors".
Deliberately holds no search, no store layout and no model check beyond the config's own keys.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from sbert_rag._deps import require
from sbert_rag.config import EncoderConfig
from sbert_rag.encoding.dual import load_encoder
from sbert_rag.encoding.identity import config_differences, vector_config
from sbert_rag.errors import ConfigError, InvalidInputError

if TYPE_CHECKING:
    from sbert_rag.image.clip_encoder import CLIPEncoder
    from sbert_rag.types import Encoder

_types = require("chromadb.api.types", "sbert-rag[chroma]")
_registry = require("chromadb.utils.embedding_functions", "sbert-rag[chroma]")

NAME = "sbert_rag"
CLIP_NAME = "sbert_rag_clip"
_OVERFLOWS = ("warn", "error", "windows")
_STORE_OVERFLOW = "warn"  # the policy the store loads its models with (TextEncoder/CLIPEncoder defaults)
# key -> JSON type(s) its value must have; "model" is a folder path, a Hub id or PACKAGED_MODEL
CONFIG_KEYS: dict[str, tuple[type, ...]] = {
    "model": (str,), "dim": (int,), "pooling": (list,), "normalize": (bool,), "max_tokens": (int,),
    "query_prompt": (str,), "passage_prompt": (str,), "overflow": (str,),
}
CLIP_CONFIG_KEYS: dict[str, tuple[type, ...]] = {"clip_folder": (str,), "dim": (int,), "overflow": (str,)}

_cache: dict[str, Any] = {}  # json of a config -> its loaded encoder, shared by both functions
_cache_lock = threading.Lock()


def encoder_config(encoder: Encoder) -> dict[str, Any]:
    """The JSON-plain config that rebuilds ``encoder``'s vectors (see ``CONFIG_KEYS``); no device.

    Args:
        encoder: a ``TextEncoder`` or a ``DualEncoder`` (anything with ``config`` and ``dim``).
    """
    return {**vector_config(encoder), "overflow": encoder.config.overflow}  # type: ignore[attr-defined]


def _key(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True)


def _vectors(config: Mapping[str, Any]) -> dict[str, Any]:
    # the vector identity in a persisted config; "model" is left out: a Hub id loads from a cache
    # folder of another name, and a pair folder is recorded resolved
    return {k: v for k, v in config.items() if k not in ("model", "overflow")}


def _load_text(config: dict[str, Any], device: str) -> Encoder:
    """Load the encoder a persisted config describes (a pair folder too), once per process and config."""
    with _cache_lock:
        if _key(config) not in _cache:
            # every key but "dim" is an EncoderConfig field
            settings = {k: v for k, v in config.items() if k != "dim"}
            encoder = load_encoder(EncoderConfig.from_dict({**settings, "device": device}))
            details = config_differences(_vectors(config), _vectors(vector_config(encoder)))
            if details:
                raise ConfigError(
                    f"the model {config['model']!r} no longer gives the vectors its Chroma collection "
                    f"holds (persisted -> loaded: {details}); restore that model, or re-embed into a new "
                    f"collection"
                )
            _cache[_key(config)] = encoder
        return _cache[_key(config)]


def _load_clip(config: dict[str, Any], device: str) -> CLIPEncoder:
    from sbert_rag.image.clip_encoder import CLIPEncoder

    with _cache_lock:
        if _key(config) not in _cache:
            clip = CLIPEncoder.load(config["clip_folder"], device=device, overflow=config["overflow"])
            if clip.dim != config["dim"]:
                raise ConfigError(
                    f"the CLIP model in {config['clip_folder']!r} makes {clip.dim}-dim vectors but the "
                    f"collection holds {config['dim']}-dim ones; restore that model, or use a new collection"
                )
            _cache[_key(config)] = clip
        return _cache[_key(config)]


def _check_config(name: str, config: Any, keys: dict[str, tuple[type, ...]]) -> None:
    if not isinstance(config, dict):
        raise ConfigError(f"an {name} config must be a dict; got {type(config).__name__}")
    unknown, missing = sorted(set(config) - set(keys)), sorted(set(keys) - set(config))
    if unknown or missing:
        raise ConfigError(
            f"invalid {name} config: unknown keys {unknown}, missing keys {missing}; expected {sorted(keys)}"
        )
    for key, types in keys.items():
        value = config[key]
        if not isinstance(value, types) or (types == (int,) and isinstance(value, bool)):
            raise ConfigError(f"{name} config {key!r} must be {types[0].__name__}; got {value!r}")
    if config["overflow"] not in _OVERFLOWS:
        raise ConfigError(f"{name} config overflow must be one of {_OVERFLOWS}; got {config['overflow']!r}")


def _from_identity(
    name: str, identity: Mapping[str, Any], keys: dict[str, tuple[type, ...]]
) -> dict[str, Any]:
    missing = sorted(k for k in keys if k != "overflow" and k not in identity)
    if missing:
        raise ConfigError(
            f"the store's recorded model {dict(identity)!r} lacks {missing}; index into a new store folder"
        )
    config = {**{k: identity[k] for k in keys if k != "overflow"}, "overflow": _STORE_OVERFLOW}
    _check_config(name, config, keys)
    return config


@_registry.register_embedding_function
class SbertRagEmbeddingFunction(_types.EmbeddingFunction[_types.Documents]):
    """Embed Chroma documents as passages and query texts as queries with an sbert_rag model.

    Built with no arguments it uses the packaged all-MiniLM-L6-v2 (offline), loaded on the first
    call. New collections default to cosine space (the vectors are unit length). An empty or
    blank document raises ``InvalidInputError`` naming its index.

    Example:
        >>> import chromadb, sbert_rag_chroma
        >>> ef = sbert_rag_chroma.SbertRagEmbeddingFunction()
        >>> col = chromadb.PersistentClient("db").create_collection("docs", embedding_function=ef)
        >>> col.add(ids=["1"], documents=["Paris is the capital of France."])
        >>> # later, in a process that imports sbert_rag_chroma (or sbert_rag.chroma_function):
        >>> chromadb.PersistentClient("db").get_collection("docs").query(query_texts=["capital?"])
    """

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        config: EncoderConfig | None = None,
        model_path: str | None = None,
        **settings: Any,
    ) -> None:
        """Configure the function.

        Args:
            encoder: a built ``TextEncoder`` or ``DualEncoder``; its folder must stay where it is
                for collections to reopen. Reused (not reloaded) by functions rebuilt in this process.
            config: how to load the model on first use (a query/passage pair folder too); None =
                the packaged default. Its ``device`` and ``dtype`` are never persisted (a rebuilt
                function uses ``"auto"`` for both).
            model_path: the ``model`` field of ``config``.
            **settings: ``EncoderConfig`` fields by name, over ``config`` (``device``, ``overflow``,
                ``query_prompt``, ``passage_prompt``, ``pooling``, ...).

        Raises:
            ConfigError: ``encoder`` was given with settings, or a setting is unknown or invalid.
        """
        named = {"config": config, "model_path": model_path, **settings}
        given = sorted(k for k, v in named.items() if v is not None)
        if encoder is not None and given:
            raise ConfigError(
                f"a built encoder carries its own settings; pass either encoder= or {given}, not both"
            )
        if model_path is not None:
            settings = {"model": model_path, **settings}  # model_path is the documented name of ``model``
        self._settings = EncoderConfig.from_dict({**(config or EncoderConfig()).to_dict(), **settings})
        self._encoder = encoder
        self._config: dict[str, Any] | None = None  # set without _encoder: load this config on first use
        self._lock = threading.Lock()
        if encoder is not None:
            self._config = encoder_config(encoder)
            with _cache_lock:
                _cache.setdefault(_key(self._config), encoder)

    @classmethod
    def _persisted(cls, config: dict[str, Any]) -> SbertRagEmbeddingFunction:
        ef = cls()
        ef._config = dict(config)
        return ef

    @classmethod
    def for_store(cls, identity: Mapping[str, Any]) -> SbertRagEmbeddingFunction:
        """The function of a store's ``chunks`` collection, from its manifest's model identity; loads nothing.

        Raises:
            ConfigError: the identity lacks a setting of ``CONFIG_KEYS``.
        """
        return cls._persisted(_from_identity(NAME, identity, CONFIG_KEYS))

    @property
    def encoder(self) -> Encoder:
        """The text encoder (``TextEncoder`` or ``DualEncoder``), loaded on first access."""
        with self._lock:
            if self._encoder is None and self._config is not None:
                self._encoder = _load_text(self._config, self._settings.device)
            elif self._encoder is None:
                self._encoder = load_encoder(self._settings)
                self._config = encoder_config(self._encoder)
                with _cache_lock:
                    _cache.setdefault(_key(self._config), self._encoder)
            return self._encoder

    def __call__(self, input: Any) -> Any:  # noqa: A002 - Chroma checks the parameter name
        """Embed documents as passages; one float32 vector per document, in order."""
        return list(self.encoder.encode_passages(list(input)).astype(np.float32))

    def embed_query(self, input: Any) -> Any:  # noqa: A002
        """Embed query texts with the query prompt (Chroma calls this for ``query_texts``)."""
        return list(self.encoder.encode_queries(list(input)).astype(np.float32))

    @staticmethod
    def name() -> str:
        """Registry name persisted with collections."""
        return NAME

    def get_config(self) -> dict[str, Any]:
        """JSON-plain config (see ``CONFIG_KEYS``); loads a model given by path, to read its dimension."""
        if self._config is None:
            _ = self.encoder
        return dict(self._config or {})

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SbertRagEmbeddingFunction:
        """Rebuild the function a ``get_config`` dict describes; the model loads on first use.

        Raises:
            ConfigError: the config is invalid (when the model loads: it now gives other settings).
        """
        SbertRagEmbeddingFunction.validate_config(config)
        return SbertRagEmbeddingFunction._persisted(config)

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Check keys and value types.

        Raises:
            ConfigError: a key is unknown or missing, or a value has the wrong type.
        """
        _check_config(NAME, config, CONFIG_KEYS)

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        """Refuse a change of model or of anything else that changes the vectors.

        Chroma persists a ``modify`` before calling this, so it warns the caller rather than
        guarding the stored config.

        Raises:
            ConfigError: the update changes the vectors; the message names both models.
        """
        check_same_vectors(old_config, new_config, "this collection")

    def default_space(self) -> str:
        """Cosine: the vectors are unit length (inner product and L2 rank the same)."""
        return "cosine"

    def supported_spaces(self) -> list[str]:
        """All three Chroma spaces rank unit vectors alike."""
        return ["cosine", "ip", "l2"]


def check_same_vectors(persisted: Mapping[str, Any], new: Mapping[str, Any], where: str) -> None:
    """Raise unless two ``sbert_rag`` configs (or two CLIP folders and dims) give comparable vectors.

    Raises:
        ConfigError: they differ; the message names both models and every differing key.
    """
    details = config_differences(dict(persisted), dict(new))
    if details:
        model = "model" if "model" in persisted or "model" in new else "clip_folder"
        raise ConfigError(
            f"{where} was embedded with model {persisted.get(model)!r} (dim {persisted.get('dim')}); "
            f"refusing model {new.get(model)!r} (dim {new.get('dim')}) because its vectors are not "
            f"comparable ({details}). Reopen it without an embedding function (the persisted one is "
            f"rebuilt), or use a new collection."
        )


def _as_pixels(image: np.ndarray) -> np.ndarray:
    # Chroma's own tests hand images over as int64; sbert_rag reads 8-bit pixels as uint8, so cast
    # signed integer arrays whose values fit and leave everything else to sbert_rag's checks
    if image.dtype.kind == "i" and image.size and 0 <= image.min() and image.max() <= 255:
        return image.astype(np.uint8)
    return image


@_registry.register_embedding_function
class SbertRagCLIPEmbeddingFunction(_types.EmbeddingFunction[_types.Embeddable]):
    """Embed Chroma documents (``str``) and images (HxWxC arrays) into one CLIP space.

    n inputs give n vectors in input order; an item that is neither text nor image is an error,
    never skipped (Chroma's builtin ``open_clip`` function drops such items).

    Example:
        >>> ef = SbertRagCLIPEmbeddingFunction("/models/my-clip")      # saved by CLIPEncoder.save
        >>> col = client.create_collection("media", embedding_function=ef, data_loader=ImageLoader())
        >>> col.add(ids=["cat"], uris=["cat.png"]); col.query(query_texts=["a cat"])
    """

    def __init__(
        self,
        clip_folder: str,
        *,
        clip: CLIPEncoder | None = None,
        device: str = "auto",
        overflow: str = "warn",
    ) -> None:
        """Configure the function.

        Args:
            clip_folder: folder written by ``CLIPEncoder.save``; persisted, so keep it in place.
            clip: the ``CLIPEncoder`` already loaded from ``clip_folder`` (avoids a second load).
            device: torch device here; never persisted.
            overflow: texts longer than CLIP's 77 tokens: ``"warn"``, ``"error"`` or ``"windows"``.

        Raises:
            ConfigError: ``overflow`` is unknown.
        """
        if overflow not in _OVERFLOWS:
            raise ConfigError(f"overflow must be one of {_OVERFLOWS}; got {overflow!r}")
        self.clip_folder = str(clip_folder)
        self.overflow = overflow
        self._device = device
        self._dim: int | None = None  # known without loading once built from a config
        if clip is not None:
            self._dim = int(clip.dim)
            with _cache_lock:
                _cache.setdefault(_key(self._config(self._dim)), clip)

    def _config(self, dim: int) -> dict[str, Any]:
        return {"clip_folder": self.clip_folder, "dim": dim, "overflow": self.overflow}

    @classmethod
    def for_store(cls, identity: Mapping[str, Any]) -> SbertRagCLIPEmbeddingFunction:
        """The function of a store's ``images`` collection, from its manifest's ``clip`` entry; loads nothing.

        Raises:
            ConfigError: the entry lacks ``path`` or ``dim``.
        """
        config = _from_identity(CLIP_NAME, {"clip_folder": identity.get("path"), "dim": identity.get("dim")},
                                CLIP_CONFIG_KEYS)
        return cls.build_from_config(config)

    @property
    def clip(self) -> CLIPEncoder:
        """The ``CLIPEncoder``, loaded on first access (cached per process by config)."""
        if self._dim is None:
            from sbert_rag.image.clip_encoder import CLIPEncoder

            clip = CLIPEncoder.load(self.clip_folder, device=self._device, overflow=self.overflow)
            self._dim = int(clip.dim)
            with _cache_lock:
                _cache.setdefault(_key(self._config(self._dim)), clip)
        return _load_clip(self._config(self._dim), self._device)

    def __call__(self, input: Any) -> Any:  # noqa: A002 - Chroma checks the parameter name
        """Embed documents and images, one float32 vector per item, in order.

        Raises:
            InvalidInputError: an item is neither, a text is blank, or an image is bad (by index).
        """
        items = list(input)
        texts = [i for i, x in enumerate(items) if _types.is_document(x)]
        images = [i for i, x in enumerate(items) if not _types.is_document(x) and _types.is_image(x)]
        if len(texts) + len(images) != len(items):
            bad = sorted(set(range(len(items))) - set(texts) - set(images))[0]
            raise InvalidInputError(
                f"item {bad} is a {type(items[bad]).__name__}: pass documents as str and images as "
                f"(height, width, channels) numpy arrays"
            )
        clip = self.clip
        out = np.zeros((len(items), clip.dim), dtype=np.float32)  # (n, dim)
        if texts:
            out[texts] = clip.encode_texts([items[i] for i in texts])
        if images:
            out[images] = clip.encode_images([_as_pixels(items[i]) for i in images])
        return list(out)

    def embed_query(self, input: Any) -> Any:  # noqa: A002
        """Embed query texts or images (CLIP has no query prompt)."""
        return self(input)

    @staticmethod
    def name() -> str:
        """Registry name persisted with collections."""
        return CLIP_NAME

    def get_config(self) -> dict[str, Any]:
        """JSON-plain config: CLIP folder, dimension (loads the model when unknown), overflow policy."""
        return self._config(self._dim if self._dim is not None else int(self.clip.dim))

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SbertRagCLIPEmbeddingFunction:
        """Rebuild from ``get_config`` output (device ``"auto"``); the model loads on first use.

        Raises:
            ConfigError: the config is invalid (when the model loads: its dimension changed).
        """
        SbertRagCLIPEmbeddingFunction.validate_config(config)
        ef = SbertRagCLIPEmbeddingFunction(config["clip_folder"], overflow=config["overflow"])
        ef._dim = config["dim"]
        return ef

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Check keys and value types.

        Raises:
            ConfigError: a key is unknown or missing, or a value is invalid.
        """
        _check_config(CLIP_NAME, config, CLIP_CONFIG_KEYS)

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        """Refuse another CLIP model or dimension.

        Raises:
            ConfigError: the folder or dimension changes; the message names both.
        """
        old, new = ({k: c.get(k) for k in ("clip_folder", "dim")} for c in (old_config, new_config))
        check_same_vectors(old, new, "this collection")

    def default_space(self) -> str:
        """Cosine: CLIP vectors are unit length."""
        return "cosine"

    def supported_spaces(self) -> list[str]:
        """All three Chroma spaces rank unit vectors alike."""
        return ["cosine", "ip", "l2"]


def store_function(kind: str, model: Mapping[str, Any], clip: Mapping[str, Any] | None) -> Any:
    """The function a store's collection of ``kind`` is created and reopened with; loads nothing.

    Args:
        kind: ``"text"`` (the chunks) or ``"image"``.
        model: the manifest's text model identity.
        clip: the manifest's ``clip`` entry (``path``, ``dim``), or None.

    Returns:
        An ``SbertRagEmbeddingFunction`` (text) or ``SbertRagCLIPEmbeddingFunction`` (images).

    Raises:
        ConfigError: ``kind`` is neither, or it is ``"image"`` and no CLIP model is recorded.
    """
    if kind == "text":
        return SbertRagEmbeddingFunction.for_store(model)
    if kind != "image":
        raise ConfigError(f"a store holds records of kind 'text' or 'image'; got {kind!r}")
    if not clip:
        raise ConfigError(
            "the store has no CLIP model, so it holds no images collection; index images with a CLIP "
            "model first"
        )
    return SbertRagCLIPEmbeddingFunction.for_store(clip)


__all__ = [
    "CLIP_NAME", "NAME", "SbertRagCLIPEmbeddingFunction", "SbertRagEmbeddingFunction",
    "check_same_vectors", "encoder_config", "store_function",
]
