"""Write a TextEncoder as a sentence-transformers folder, in the v2-v5 or the v6 key style.

Owns the on-disk layout we write: the Hugging Face model and tokenizer at the root,
modules.json, sentence_bert_config.json, ``1_Pooling``, ``N_Dense`` and ``N_Normalize`` folders,
config_sentence_transformers.json. The legacy style is read by every sentence-transformers
version; the v6 style is what sentence-transformers 6 writes itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbert_rag._deps import quiet_transformers
from sbert_rag._version import __version__
from sbert_rag.encoding.loading import LEGACY_POOLING_KEYS
from sbert_rag.errors import ConfigError

if TYPE_CHECKING:
    from sbert_rag.encoding.text_encoder import TextEncoder

_TYPES = {
    "legacy": {
        "Transformer": "sentence_transformers.models.Transformer",
        "Pooling": "sentence_transformers.models.Pooling",
        "Dense": "sentence_transformers.models.Dense",
        "Normalize": "sentence_transformers.models.Normalize",
    },
    "v6": {
        "Transformer": "sentence_transformers.base.modules.transformer.Transformer",
        "Pooling": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
        "Dense": "sentence_transformers.base.modules.dense.Dense",
        "Normalize": "sentence_transformers.base.modules.normalize.Normalize",
    },
}


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def save_folder(encoder: TextEncoder, folder: Path, *, key_style: str = "legacy") -> Path:
    """Save ``encoder`` into ``folder``; see :meth:`TextEncoder.save`."""
    if key_style not in _TYPES:
        raise ConfigError(f"key_style must be 'legacy' or 'v6'; got {key_style!r}")
    import torch
    from safetensors.torch import save_file

    types = _TYPES[key_style]
    folder.mkdir(parents=True, exist_ok=True)
    module = encoder.module
    tokenizer = encoder.tokenizer
    tokenizer.model_max_length = encoder.max_tokens
    with quiet_transformers():
        module.transformer.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))

    modules = [{"idx": 0, "name": "0", "path": "", "type": types["Transformer"]}]
    hidden = int(module.transformer.config.hidden_size)
    modes = [m.value for m in encoder.spec.pooling]
    if key_style == "legacy":
        pooling_cfg: dict[str, Any] = {"word_embedding_dimension": hidden}
        pooling_cfg.update({key: mode.value in modes for key, mode in LEGACY_POOLING_KEYS.items()})
        pooling_cfg["include_prompt"] = module.include_prompt
        _write_json(folder / "sentence_bert_config.json", {"max_seq_length": encoder.max_tokens, "do_lower_case": encoder.spec.do_lower_case})
    else:
        pooling_cfg = {
            "embedding_dimension": hidden,
            "pooling_mode": modes[0] if len(modes) == 1 else modes,
            "include_prompt": module.include_prompt,
        }
        sbert_cfg: dict[str, Any] = {
            "transformer_task": "feature-extraction",
            "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
            "module_output_name": "token_embeddings",
        }
        if encoder.spec.do_lower_case:
            sbert_cfg["do_lower_case"] = True
        _write_json(folder / "sentence_bert_config.json", sbert_cfg)
    _write_json(folder / "1_Pooling" / "config.json", pooling_cfg)
    modules.append({"idx": 1, "name": "1", "path": "1_Pooling", "type": types["Pooling"]})

    idx = 2
    for stage in module.dense:
        sub = f"{idx}_Dense"
        cfg = {
            "in_features": stage.linear.in_features,
            "out_features": stage.linear.out_features,
            "bias": stage.linear.bias is not None,
            "activation_function": stage.activation_name,
        }
        _write_json(folder / sub / "config.json", cfg)
        state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in stage.state_dict().items()}
        save_file(state, str(folder / sub / "model.safetensors"))
        modules.append({"idx": idx, "name": str(idx), "path": sub, "type": types["Dense"]})
        idx += 1
    if encoder.normalize:
        sub = f"{idx}_Normalize"
        (folder / sub).mkdir(exist_ok=True)
        if key_style == "v6":
            _write_json(folder / sub / "config.json", {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"})
        modules.append({"idx": idx, "name": str(idx), "path": sub, "type": types["Normalize"]})
    _write_json(folder / "modules.json", modules)

    prompts = dict(encoder.prompts.saved or {})
    if encoder.prompts.query:
        prompts["query"] = encoder.prompts.query
    if encoder.prompts.passage:
        prompts["document"] = encoder.prompts.passage
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "__version__": {"sbert_rag": __version__, "pytorch": torch.__version__},
            "model_type": "SentenceTransformer",
            "prompts": prompts,
            "default_prompt_name": encoder.spec.default_prompt_name,
            "similarity_fn_name": encoder.spec.similarity,
        },
    )
    return folder
