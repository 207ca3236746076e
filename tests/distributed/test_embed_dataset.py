"""``embed_dataset``: the Ray actor pool embeds exactly as the encoder does in this process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sbert_rag.config import EncoderConfig
from sbert_rag.errors import ConfigError, InvalidInputError

TEXTS = [
    "the cat sits on the red house", "a dog runs in the tree", "hello world", "search for a long vector model",
    "the small bird eats a fish", "blue car", "query passage text sentence", "the big green tree is short",
]


def _config(tiny_bert_dir: Path) -> EncoderConfig:
    # prompts make queries and passages differ; float32 on CPU as the in-process reference
    return EncoderConfig(model=str(tiny_bert_dir), pooling=("mean",), normalize=True, query_prompt="query: ",
                         passage_prompt="passage: ", device="cpu", dtype="float32", batch_size=3)


@pytest.mark.parametrize("role", ["passage", "query"])
def test_embed_dataset_equals_the_encoder_in_process(ray_runtime, tiny_bert_dir: Path, role: str) -> None:
    from sbert_rag.distributed import embed_dataset
    from sbert_rag.encoding.dual import load_encoder

    config = _config(tiny_bert_dir)
    ds = ray_runtime.data.from_items([{"i": i, "text": t} for i, t in enumerate(TEXTS)], override_num_blocks=3)
    rows = embed_dataset(ds, config=config, role=role, batch_size=3, concurrency=2).take_all()
    rows.sort(key=lambda r: r["i"])
    assert [r["text"] for r in rows] == TEXTS  # other columns kept
    got = np.stack([r["embedding"] for r in rows])
    encoder = load_encoder(config)
    want = encoder.encode_queries(TEXTS) if role == "query" else encoder.encode_passages(TEXTS)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(got * want, axis=1))) >= 0.99999


def test_embed_dataset_refuses_bad_options(tiny_bert_dir: Path) -> None:
    from sbert_rag.distributed import embed_dataset

    with pytest.raises(InvalidInputError, match="role must be one of"):
        embed_dataset(None, config=_config(tiny_bert_dir), role="document")
    with pytest.raises(ConfigError, match="EncoderConfig"):
        embed_dataset(None, config={"model": str(tiny_bert_dir)})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="batch_size must be an integer >= 1"):
        embed_dataset(None, config=_config(tiny_bert_dir), batch_size=0)
