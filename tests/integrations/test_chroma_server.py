"""The Chroma adapter over HTTP: a ``chroma run`` server on a loopback port, started here.

The server never runs Python embedding functions: the client embeds, the server stores the
function's config, and a new client rebuilds our function from it (after importing sbert_rag_chroma).
(``sbert_rag.Store`` keeps its records in an embedded Chroma; over HTTP only the function applies.)
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from sbert_rag_chroma import SbertRagEmbeddingFunction, open_collection

import sbert_rag

pytestmark = pytest.mark.skipif(
    shutil.which("chroma") is None, reason="the chroma CLI (chromadb wheel) is not on PATH"
)


def _http(port: int):  # noqa: ANN202
    import chromadb
    from chromadb.config import Settings

    return chromadb.HttpClient(host="127.0.0.1", port=port, settings=Settings(anonymized_telemetry=False))


def test_function_over_http(chroma_server: int, prompted_encoder, tiny_encoder) -> None:
    ef = SbertRagEmbeddingFunction(prompted_encoder)
    col = open_collection(_http(chroma_server), "docs", ef)
    col.add(ids=["cat", "bird"], documents=["the cat sits on the tree", "a red bird"])
    assert col.query(query_texts=["bird"], n_results=1)["ids"][0] == ["bird"]
    reopened = _http(chroma_server).get_collection(
        "docs"
    )  # no function given: rebuilt from the stored config
    assert reopened.configuration_json["embedding_function"]["config"] == ef.get_config()
    by_text = reopened.query(query_texts=["the cat"], n_results=2, include=["distances"])
    by_vector = reopened.query(
        query_embeddings=prompted_encoder.encode_queries(["the cat"]), n_results=2, include=["distances"]
    )
    assert by_text["ids"] == by_vector["ids"]
    np.testing.assert_allclose(by_text["distances"], by_vector["distances"], atol=1e-5)
    with pytest.raises(sbert_rag.ConfigError, match="query_prompt: 'query ' -> ''"):
        open_collection(_http(chroma_server), "docs", SbertRagEmbeddingFunction(tiny_encoder))
