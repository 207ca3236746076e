"""SbertRagCLIPEmbeddingFunction: mixed inputs kept in order, config round trip, a multimodal collection."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sbert_rag_chroma import SbertRagCLIPEmbeddingFunction, open_collection

import sbert_rag


def _pixels(path) -> np.ndarray:  # noqa: ANN001
    from PIL import Image

    return np.array(Image.open(path))


def test_mixed_inputs_keep_their_order(tiny_clip, tiny_clip_dir, image_files) -> None:
    ef = SbertRagCLIPEmbeddingFunction(str(tiny_clip_dir), clip=tiny_clip)
    red, blue = _pixels(image_files["red"]), _pixels(image_files["blue"])
    out = np.stack(
        ef(["a red square", red, "blue", blue.astype(np.int64)])
    )  # Chroma's tests use int64 images
    np.testing.assert_allclose(out[[0, 2]], tiny_clip.encode_texts(["a red square", "blue"]), atol=1e-5)
    np.testing.assert_allclose(out[[1, 3]], tiny_clip.encode_images([red, blue]), atol=1e-5)
    with pytest.raises(sbert_rag.InvalidInputError, match="item 1 is a int"):
        ef(["text", 3])


def test_clip_config_round_trip(tiny_clip, tiny_clip_dir) -> None:
    ef = SbertRagCLIPEmbeddingFunction(str(tiny_clip_dir), clip=tiny_clip)
    config = json.loads(json.dumps(ef.get_config()))
    assert config == {"clip_folder": str(tiny_clip_dir), "dim": tiny_clip.dim, "overflow": "warn"}
    rebuilt = SbertRagCLIPEmbeddingFunction.build_from_config(config)
    np.testing.assert_allclose(rebuilt(["a cat"]), ef(["a cat"]), atol=1e-6)
    with pytest.raises(sbert_rag.ConfigError, match=r"unknown keys \['device'\]"):
        SbertRagCLIPEmbeddingFunction.validate_config({**config, "device": "cpu"})
    with pytest.raises(sbert_rag.ConfigError, match="/models/other"):
        ef.validate_config_update(config, {**config, "clip_folder": "/models/other"})
    ef.validate_config_update(config, {**config, "overflow": "error"})  # same vectors


def test_clip_rebuilt_function_loads_on_first_use_and_checks_the_dim(tiny_clip_dir) -> None:
    config = {"clip_folder": str(tiny_clip_dir), "dim": 7, "overflow": "warn"}
    ef = SbertRagCLIPEmbeddingFunction.build_from_config(config)  # Chroma calls this on every add and query
    assert ef.get_config() == config and not ef.is_legacy()
    with pytest.raises(sbert_rag.ConfigError, match="makes 32-dim vectors but the collection holds 7-dim"):
        ef(["a cat"])


def test_multimodal_collection_with_uris(tiny_clip, tiny_clip_dir, image_files, chroma_client) -> None:
    from chromadb.utils.data_loaders import ImageLoader

    ef = SbertRagCLIPEmbeddingFunction(str(tiny_clip_dir), clip=tiny_clip)
    col = chroma_client.create_collection("media", embedding_function=ef, data_loader=ImageLoader())
    col.add(ids=list(image_files), uris=[str(p) for p in image_files.values()])
    col.add(ids=["caption"], documents=["green stripes on black"])
    for name, path in image_files.items():
        assert col.query(query_uris=[str(path)], n_results=1)["ids"][0] == [name]
    assert len(col.query(query_texts=["a red square"], n_results=4)["ids"][0]) == 4
    reopened = open_collection(chroma_client, "media", ef, data_loader=ImageLoader())
    assert reopened.query(query_uris=[str(image_files["red"])], n_results=1)["ids"][0] == ["red"]
