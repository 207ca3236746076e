"""``EncoderConfig``: strict round trips, validation, and the encoders and stores built from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sbert_rag import ConfigError, EncoderConfig, TextEncoder, load_encoder
from sbert_rag.encoding.dual import DualEncoder
from sbert_rag.encoding.identity import config_differences, vector_config


def test_round_trip_and_canonical_values() -> None:
    config = EncoderConfig(model="m", pooling="mean", dtype="bf16", overflow="WINDOWS", query_prompt="q: ")
    assert config.pooling == ("mean",) and config.dtype == "bfloat16" and config.overflow == "windows"
    assert EncoderConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["pooling"] == ["mean"]
    assert set(config.vector_settings()) == {"model", "pooling", "normalize", "query_prompt", "passage_prompt",
                                             "max_tokens"}


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"modle": "x"}, r"unknown EncoderConfig key\(s\) \['modle'\]; valid keys are"),
        ({"pooling": "avg"}, "pooling must be one of"),
        ({"overflow": "drop"}, "overflow must be one of"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"normalize": "yes"}, "normalize must be True, False or None"),
        ({"pooling": []}, "at least one mode"),
    ],
)
def test_bad_values_are_named(values: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        EncoderConfig.from_dict(values)


def test_encoder_config_rebuilds_the_same_vectors(tiny_bert_dir: Path) -> None:
    config = EncoderConfig(model=str(tiny_bert_dir), pooling=("mean",), normalize=True, device="cpu",
                           dtype="float32", query_prompt="query: ")
    encoder = TextEncoder.from_config(config)
    resolved = encoder.config
    assert resolved.query_prompt == "query: " and resolved.pooling == ("mean",) and resolved.max_tokens == 64
    again = TextEncoder.from_config(EncoderConfig.from_dict(resolved.to_dict()))
    texts = ["the cat sits", "a dog runs in the house"]
    np.testing.assert_array_equal(encoder.encode_queries(texts), again.encode_queries(texts))
    assert config_differences(vector_config(encoder), vector_config(again)) == ""
    other = TextEncoder.from_config(config.replace(query_prompt="search: "))
    assert "query_prompt: 'query: ' -> 'search: '" in config_differences(vector_config(encoder), vector_config(other))


def test_load_encoder_takes_a_config_and_opens_pairs(tiny_bert_dir: Path, tmp_path: Path) -> None:
    options = {"pooling": ("mean",), "normalize": True, "device": "cpu", "dtype": "float32"}
    single = load_encoder(EncoderConfig(model=str(tiny_bert_dir), **options))
    DualEncoder(single, single).save(tmp_path / "pair")
    pair = load_encoder(EncoderConfig(model=str(tmp_path / "pair"), **options))
    assert isinstance(pair, DualEncoder)
    assert pair.config.model == str((tmp_path / "pair").resolve())
    with pytest.raises(ConfigError, match="inside the EncoderConfig"):
        load_encoder(EncoderConfig(), device="cpu")
