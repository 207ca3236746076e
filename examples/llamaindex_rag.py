"""LlamaIndex RAG retrieval: a VectorStoreIndex on a ChromaVectorStore with sbert_rag embeddings.

Run: python examples/llamaindex_rag.py
Needs: pip install -e integrations/llamaindex llama-index-vector-stores-chroma. Offline: the
packaged all-MiniLM-L6-v2 embeds nodes as passages and questions as queries; Chroma runs in memory
in a cosine collection. No LLM is involved: this retrieves, it does not generate.
"""

from __future__ import annotations

import chromadb
from chromadb.config import Settings
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.vector_stores.chroma import ChromaVectorStore

from llama_index.embeddings.sbert_rag import SbertRagEmbedding

CORPUS = {
    "bees": "Honey bees perform a waggle dance to tell others where flowers are.",
    "sky": "Rayleigh scattering of sunlight by air molecules makes the sky look blue.",
    "paris": "Paris is the capital and largest city of France.",
    "plants": "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar.",
    "tides": "Tides are caused mainly by the gravitational pull of the Moon on the oceans.",
}
QUESTIONS = [
    "how do bees tell each other where food is?",
    "why is the sky blue?",
    "what makes the sea rise and fall?",
]


def main() -> None:
    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    # LlamaIndex passes vectors itself, so the collection needs no Chroma embedding function;
    # a cosine space suits unit-length vectors (Chroma's default is l2)
    collection = client.get_or_create_collection(
        "llamaindex_rag_example", configuration={"hnsw": {"space": "cosine"}}
    )
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    docs = [Document(text=text, metadata={"topic": topic}) for topic, text in CORPUS.items()]
    embed_model = SbertRagEmbedding()  # packaged default model, loaded on first use, no download
    index = VectorStoreIndex.from_documents(docs, storage_context=storage, embed_model=embed_model)
    retriever = index.as_retriever(similarity_top_k=2)
    for question in QUESTIONS:
        print(f"{question!r}")
        for hit in retriever.retrieve(question):
            print(f"  -> [{hit.node.metadata['topic']}] {hit.score:.3f} {hit.node.get_content()}")
    client.delete_collection("llamaindex_rag_example")


if __name__ == "__main__":
    main()
