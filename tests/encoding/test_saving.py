"""Save/load round trips in both key styles, and sentence-transformers reading ours and vice versa."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sbert_rag import TextEncoder
from sbert_rag.errors import ConfigError

TEXTS = ["the cat sits on the house", "a dog", "red bird and blue fish in a big green tree"]


@pytest.mark.parametrize("key_style", ["legacy", "v6"])
def test_save_load_round_trip(tiny_bert_dir: Path, tmp_path: Path, key_style: str) -> None:
    enc = TextEncoder.from_pretrained(
        tiny_bert_dir, pooling="weightedmean", normalize=True, max_tokens=48, query_prompt="query: ", device="cpu", dtype="float32"
    )
    folder = enc.save(tmp_path / key_style, key_style=key_style)
    pooling_cfg = json.loads((folder / "1_Pooling" / "config.json").read_text())
    if key_style == "legacy":
        assert pooling_cfg["pooling_mode_weightedmean_tokens"] is True and "pooling_mode" not in pooling_cfg
        assert json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"] == 48
    else:
        assert pooling_cfg["pooling_mode"] == "weightedmean" and pooling_cfg["embedding_dimension"] == 32
    assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 48
    back = TextEncoder.from_pretrained(folder, device="cpu", dtype="float32")
    assert back.max_tokens == 48 and back.normalize and back.prompts.query == "query: "
    np.testing.assert_allclose(back.encode_queries(TEXTS), enc.encode_queries(TEXTS), atol=1e-6)
    np.testing.assert_allclose(back.encode_passages(TEXTS), enc.encode_passages(TEXTS), atol=1e-6)


def test_bad_key_style(tiny_encoder: TextEncoder, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'legacy' or 'v6'"):
        tiny_encoder.save(tmp_path / "x", key_style="v7")


@pytest.mark.parametrize("key_style", ["legacy", "v6"])
def test_sentence_transformers_loads_what_we_save(tiny_bert_dir: Path, tmp_path: Path, key_style: str) -> None:
    from sentence_transformers import SentenceTransformer

    enc = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", normalize=True, query_prompt="query: ", device="cpu", dtype="float32")
    folder = enc.save(tmp_path / "ours", key_style=key_style)
    st = SentenceTransformer(str(folder), device="cpu")
    assert st.max_seq_length == 64
    np.testing.assert_allclose(st.encode(TEXTS), enc.encode_passages(TEXTS), atol=1e-5)
    np.testing.assert_allclose(st.encode(TEXTS, prompt_name="query"), enc.encode_queries(TEXTS), atol=1e-5)


def test_we_load_what_sentence_transformers_saves_with_dense(tiny_bert_dir: Path, tmp_path: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules.dense import Dense
    from sentence_transformers.base.modules.normalize import Normalize
    from sentence_transformers.base.modules.transformer import Transformer
    from sentence_transformers.sentence_transformer.modules.pooling import Pooling

    torch.manual_seed(1)
    modules = [
        Transformer(str(tiny_bert_dir), max_seq_length=40),
        Pooling(32, pooling_mode=("cls", "max")),
        Dense(64, 16, activation_function=torch.nn.Tanh()),
        Normalize(),
    ]
    st = SentenceTransformer(modules=modules, prompts={"query": "query: ", "document": "passage: "}, device="cpu")
    folder = tmp_path / "st"
    st.save(str(folder))
    ours = TextEncoder.from_pretrained(folder, device="cpu", dtype="float32")
    assert ours.dim == 16 and ours.max_tokens == 40 and ours.normalize
    assert (ours.prompts.query, ours.prompts.passage) == ("query: ", "passage: ")
    np.testing.assert_allclose(ours.encode_queries(TEXTS), st.encode_query(TEXTS), atol=1e-5)
    np.testing.assert_allclose(ours.encode_passages(TEXTS), st.encode_document(TEXTS), atol=1e-5)
    # and back: our save of that model loads in sentence-transformers with the same vectors
    again = SentenceTransformer(str(ours.save(tmp_path / "again")), device="cpu")
    np.testing.assert_allclose(again.encode(TEXTS, prompt_name="query"), ours.encode_queries(TEXTS), atol=1e-5)
