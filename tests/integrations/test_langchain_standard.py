"""LangChain's own standard suites, unmodified, on SbertRagEmbeddings (packaged default model).

One class per langchain-tests base, as the suite requires: the unit suite (construction with
sockets off, nothing loaded), the embeddings integration suite, and the vector-store suite on
``langchain_chroma.Chroma`` built with our embeddings.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, VectorStoreIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_sbert_rag import SbertRagEmbeddings


class _OurEmbeddings:
    """What both embeddings suites build: ``SbertRagEmbeddings(device="cpu")`` (the packaged default)."""

    @property
    def embeddings_class(self) -> type[SbertRagEmbeddings]:
        return SbertRagEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"device": "cpu"}


class TestSbertRagEmbeddingsUnit(_OurEmbeddings, EmbeddingsUnitTests):
    pass


class TestSbertRagEmbeddingsIntegration(_OurEmbeddings, EmbeddingsIntegrationTests):
    pass


class TestChromaWithSbertRag(VectorStoreIntegrationTests):
    @pytest.fixture(scope="class")
    def embeddings(self) -> SbertRagEmbeddings:
        return SbertRagEmbeddings(device="cpu")

    @pytest.fixture()
    def vectorstore(self, embeddings: SbertRagEmbeddings, chroma_client: object) -> Iterator[VectorStore]:  # type: ignore[override]
        from langchain_chroma import Chroma

        store = Chroma(
            collection_name=f"t{uuid.uuid4().hex}", embedding_function=embeddings, client=chroma_client
        )
        try:
            yield store
        finally:
            store.delete_collection()
