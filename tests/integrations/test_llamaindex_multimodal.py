"""SbertRagMultiModalEmbedding: paths or BytesIO, batching, a MultiModalVectorStoreIndex on Chroma."""

from __future__ import annotations

import io

import numpy as np
import pytest

import sbert_rag
from llama_index.embeddings.sbert_rag import SbertRagEmbedding, SbertRagMultiModalEmbedding


def test_images_as_paths_and_bytesio_agree(tiny_clip, image_files) -> None:
    emb = SbertRagMultiModalEmbedding(tiny_clip)
    path = image_files["red"]
    from_path = emb.get_image_embedding(str(path))
    from_bytes = emb.get_image_embedding(io.BytesIO(path.read_bytes()))
    np.testing.assert_allclose(from_path, from_bytes, atol=1e-6)
    np.testing.assert_allclose(from_path, tiny_clip.encode_images([str(path)])[0], atol=1e-5)
    assert type(from_path[0]) is float


async def test_image_batches_and_async(tiny_clip_dir, image_files, spy_on) -> None:
    emb = SbertRagMultiModalEmbedding(clip_path=str(tiny_clip_dir), device="cpu", embed_batch_size=2)
    paths = [str(p) for p in image_files.values()]
    with spy_on(SbertRagMultiModalEmbedding, "_get_image_embeddings") as hook:
        vectors = emb.get_image_embedding_batch(paths)
    assert [len(c.args[1]) for c in hook.call_args_list] == [2, 1]
    np.testing.assert_allclose(await emb.aget_image_embedding_batch(paths), vectors, atol=1e-6)
    np.testing.assert_allclose(
        await emb.aget_query_embedding("red"), emb.get_query_embedding("red"), atol=1e-6
    )
    assert emb.to_dict()["clip_path"] == str(tiny_clip_dir)


def test_multimodal_needs_one_clip_model(tiny_clip, image_files) -> None:
    with pytest.raises(sbert_rag.ConfigError, match="exactly one CLIP"):
        SbertRagMultiModalEmbedding()
    with pytest.raises(sbert_rag.InvalidInputError, match="nothing.png"):
        SbertRagMultiModalEmbedding(tiny_clip).get_image_embedding(
            str(image_files["red"].parent / "nothing.png")
        )


def test_multimodal_index_over_two_chroma_collections(
    tiny_encoder, tiny_clip, image_files, chroma_client
) -> None:
    from llama_index.core import StorageContext
    from llama_index.core.indices import MultiModalVectorStoreIndex
    from llama_index.core.schema import Document, ImageDocument
    from llama_index.vector_stores.chroma import ChromaVectorStore

    cosine = {"hnsw": {"space": "cosine"}}
    text_store = ChromaVectorStore(
        chroma_collection=chroma_client.create_collection("text_mm", configuration=cosine)
    )
    image_store = ChromaVectorStore(
        chroma_collection=chroma_client.create_collection("image_mm", configuration=cosine)
    )
    context = StorageContext.from_defaults(vector_store=text_store, image_store=image_store)
    docs = [
        Document(text="the red car is small", metadata={"name": "car"}),
        Document(text="a blue bird sits in the tree", metadata={"name": "bird"}),
        *[ImageDocument(image_path=str(p), metadata={"name": n}) for n, p in image_files.items()],
    ]
    index = MultiModalVectorStoreIndex.from_documents(
        docs,
        storage_context=context,
        embed_model=SbertRagEmbedding(tiny_encoder),
        image_embed_model=SbertRagMultiModalEmbedding(tiny_clip),
    )
    assert chroma_client.get_collection("text_mm").count() == 2
    assert chroma_client.get_collection("image_mm").count() == 3
    retriever = index.as_retriever(similarity_top_k=1, image_similarity_top_k=1)
    for name, path in image_files.items():
        assert retriever.image_to_image_retrieve(str(path))[0].node.metadata["name"] == name
    hits = retriever.retrieve("a blue bird sits in the tree")
    assert {h.node.metadata["name"] for h in hits} >= {"bird"}  # the text side finds its exact match
    assert len(retriever.text_to_image_retrieve("a red square")) == 1
