"""LangChain RAG retrieval: a langchain-chroma vector store and retriever on sbert_rag embeddings.

Run: python examples/langchain_rag.py
Needs: pip install -e integrations/langchain langchain-chroma. Offline: the packaged
all-MiniLM-L6-v2 embeds documents as passages and questions as queries; Chroma runs in memory.
"""

from __future__ import annotations

import chromadb
from chromadb.config import Settings
from langchain_chroma import Chroma
from langchain_core.documents import Document

from langchain_sbert_rag import SbertRagEmbeddings

CORPUS = [
    ("bees", "Honey bees perform a waggle dance to tell others where flowers are."),
    ("sky", "Rayleigh scattering of sunlight by air molecules makes the sky look blue."),
    ("paris", "Paris is the capital and largest city of France."),
    ("plants", "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar."),
    ("tides", "Tides are caused mainly by the gravitational pull of the Moon on the oceans."),
]
QUESTIONS = [
    "how do bees tell each other where food is?",
    "why is the sky blue?",
    "what makes the sea rise and fall?",
]


def main() -> None:
    embeddings = SbertRagEmbeddings()  # packaged default model, loaded on first use, no download
    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    store = Chroma(
        collection_name="langchain_rag_example",
        embedding_function=embeddings,
        client=client,
        collection_metadata={"hnsw:space": "cosine"},  # our vectors are unit length
    )
    store.add_documents([Document(page_content=text, metadata={"topic": topic}) for topic, text in CORPUS])
    retriever = store.as_retriever(search_kwargs={"k": 2})
    for question in QUESTIONS:
        docs = retriever.invoke(question)
        print(f"{question!r}")
        for doc in docs:
            print(f"  -> [{doc.metadata['topic']}] {doc.page_content}")
    scored = store.similarity_search_with_relevance_scores("capital of France", k=1)[0]
    print(f"best for 'capital of France': [{scored[0].metadata['topic']}] relevance {scored[1]:.3f}")
    store.delete_collection()


if __name__ == "__main__":
    main()
