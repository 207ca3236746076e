"""Loading errors name the path and the missing file; Hub ids offline say how to pass a folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sbert_rag import ModelLoadError, TextEncoder
from sbert_rag.config import PoolingMode
from sbert_rag.encoding.loading import read_pooling_config


def test_missing_folder_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ModelLoadError, match="nope.*does not exist"):
        TextEncoder.from_pretrained(missing, pooling="mean")


def test_hub_id_offline_says_how_to_pass_a_folder() -> None:
    with pytest.raises(ModelLoadError, match="all-mpnet-base-v2.*could not be fetched.*pass its path"):
        TextEncoder.from_pretrained("sentence-transformers/all-mpnet-base-v2")


@pytest.mark.parametrize(
    ("victims", "match"),
    [
        (["config.json"], "missing file 'config.json'"),
        (["model.safetensors"], "no weights .*model.safetensors"),
        (["tokenizer.json"], "no tokenizer .*tokenizer.json"),
    ],
)
def test_missing_file_is_named(tiny_bert_dir: Path, tmp_path: Path, victims: list[str], match: str) -> None:
    folder = tmp_path / "model_copy"
    shutil.copytree(tiny_bert_dir, folder)
    for victim in victims:
        (folder / victim).unlink()
    with pytest.raises(ModelLoadError, match=match) as info:
        TextEncoder.from_pretrained(folder, pooling="mean")
    assert "model_copy" in str(info.value)


def test_missing_pooling_config_in_st_folder(tiny_bert_dir: Path, tmp_path: Path) -> None:
    enc = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu", dtype="float32")
    folder = enc.save(tmp_path / "st")
    (folder / "1_Pooling" / "config.json").unlink()
    with pytest.raises(ModelLoadError, match="missing file 'config.json' in model folder .*1_Pooling"):
        TextEncoder.from_pretrained(folder)


def test_unsupported_module_is_named(tiny_bert_dir: Path, tmp_path: Path) -> None:
    folder = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu", dtype="float32").save(tmp_path / "st")
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 9, "name": "9", "path": "9_LSTM", "type": "sentence_transformers.models.LSTM"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelLoadError, match="LSTM.*not supported"):
        TextEncoder.from_pretrained(folder)


def test_pooling_config_both_key_styles() -> None:
    legacy = {"word_embedding_dimension": 8, "pooling_mode_cls_token": True, "pooling_mode_max_tokens": True}
    assert read_pooling_config(legacy) == ((PoolingMode.CLS, PoolingMode.MAX), True)
    v6 = {"embedding_dimension": 8, "pooling_mode": "lasttoken", "include_prompt": False}
    assert read_pooling_config(v6) == ((PoolingMode.LAST_TOKEN,), False)
    both = read_pooling_config({"pooling_mode": ["mean", "weightedmean"]})[0]
    assert both == (PoolingMode.MEAN, PoolingMode.WEIGHTED_MEAN)
