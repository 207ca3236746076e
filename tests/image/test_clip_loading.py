"""Building CLIP models: config validation, open_clip names, tags and checkpoints, saved folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sbert_rag.errors import ConfigError, ModelLoadError
from sbert_rag.image import CLIPConfig, CLIPEncoder


def test_config_round_trip_and_defaults() -> None:
    config = CLIPConfig.small()
    assert CLIPConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.image_size == (32, 32) and config.context_length == 77
    assert config.text_cfg["vocab_size"] == 49408


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"embed_dim": 0}, "embed_dim"),
        ({"resize_mode": "stretch"}, "resize_mode"),
        ({"interpolation": "nearest"}, "interpolation"),
        ({"image_std": [0.2, 0.0, 0.2]}, "image_std"),
        ({"image_mean": [0.5, 0.5]}, "image_mean"),
        ({"text_cfg": {"hf_model_name": "bert-base-uncased"}}, "hf_model_name"),
        ({"text_cfg": {"context_length": 2}}, "context_length"),
        ({"vision_cfg": {"width": object()}}, "JSON"),
    ],
)
def test_config_rejects_bad_values(change: dict, message: str) -> None:
    values = {**CLIPConfig.small().to_dict(), **change}
    with pytest.raises(ConfigError, match=message):
        CLIPConfig.from_dict(values)


def test_config_from_dict_rejects_unknown_and_missing_keys() -> None:
    with pytest.raises(ConfigError, match=r"unknown CLIP config keys \['colour'\]"):
        CLIPConfig.from_dict({**CLIPConfig.small().to_dict(), "colour": 1})
    with pytest.raises(ConfigError, match="lacks"):
        CLIPConfig.from_dict({"embed_dim": 8})
    with pytest.raises(ConfigError, match="multiple of patch_size"):
        CLIPConfig.small(image_size=30, patch_size=16)


def test_build_rejects_unknown_open_clip_fields_and_small_vocab() -> None:
    small = CLIPConfig.small()
    with pytest.raises(ConfigError, match=r"vision_cfg has keys open_clip does not know: \['depth'\]"):
        CLIPEncoder.from_config(CLIPConfig(32, {**small.vision_cfg, "depth": 2}, small.text_cfg))
    with pytest.raises(ConfigError, match=r"\['vocab_size'\]=1000 is smaller than the bundled BPE"):
        CLIPEncoder.from_config(CLIPConfig(32, small.vision_cfg, {**small.text_cfg, "vocab_size": 1000}))


def test_from_config_seed_is_reproducible() -> None:
    a = CLIPEncoder.from_config(CLIPConfig.small(), seed=3, device="cpu").encode_texts(["a red cube"])
    b = CLIPEncoder.from_config(CLIPConfig.small(), seed=3, device="cpu").encode_texts(["a red cube"])
    c = CLIPEncoder.from_config(CLIPConfig.small(), seed=4, device="cpu").encode_texts(["a red cube"])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_from_open_clip_unknown_name_and_tag() -> None:
    with pytest.raises(ConfigError, match="unknown open_clip model 'ViT-Q-99'"):
        CLIPEncoder.from_open_clip("ViT-Q-99")
    with pytest.raises(ConfigError, match="'no-such-tag' is not a pretrained tag of 'ViT-B-32'.*laion2b"):
        CLIPEncoder.from_open_clip("ViT-B-32", pretrained="no-such-tag")


def test_from_open_clip_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="checkpoint file .*missing.safetensors.* not found"):
        CLIPEncoder.from_open_clip("ViT-B-32", pretrained=str(tmp_path / "missing.safetensors"))


def test_from_open_clip_tag_offline_says_how_to_pass_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="could not be downloaded.*pretrained='/path/to/"):
        CLIPEncoder.from_open_clip("ViT-B-32", pretrained="laion2b_s34b_b79k", cache_dir=str(tmp_path))


def test_from_open_clip_local_checkpoint_loads_weights(tiny_clip, tmp_path: Path) -> None:
    import open_clip

    name = "sbert-rag-test-tiny"
    cfg_file = tmp_path / f"{name}.json"
    model_cfg = tiny_clip.config.model_cfg()
    cfg_file.write_text(json.dumps({k: v for k, v in model_cfg.items() if k != "quick_gelu"}))
    open_clip.add_model_config(cfg_file)  # registers the architecture under its file name
    tiny_clip.save(tmp_path / "saved")
    weights = tmp_path / "saved" / "model.safetensors"
    loaded = CLIPEncoder.from_open_clip(name, pretrained=weights, device="cpu")
    np.testing.assert_allclose(loaded.encode_texts(["a cat"]), tiny_clip.encode_texts(["a cat"]), atol=1e-6)
    other = CLIPEncoder.from_config(CLIPConfig.small(embed_dim=16), device="cpu")
    other.save(tmp_path / "other")
    with pytest.raises(ModelLoadError, match="does not fit 'sbert-rag-test-tiny'"):
        CLIPEncoder.from_open_clip(name, pretrained=tmp_path / "other" / "model.safetensors")


def test_load_errors_name_the_problem(tiny_clip, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        CLIPEncoder.load(tmp_path / "nothing")
    folder = tiny_clip.save(tmp_path / "clip")
    meta = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ModelLoadError, match="format_version 99"):
        CLIPEncoder.load(folder)
    (folder / "config.json").write_text(json.dumps({**meta, "component": "DenseIndex"}))
    with pytest.raises(ModelLoadError, match="not a CLIP encoder config"):
        CLIPEncoder.load(folder)
    wrong = {**meta, "clip": {**meta["clip"], "embed_dim": 16}}
    (folder / "config.json").write_text(json.dumps(wrong))
    with pytest.raises(ModelLoadError, match="does not fit the saved config"):
        CLIPEncoder.load(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="lacks model.safetensors"):
        CLIPEncoder.load(folder)
