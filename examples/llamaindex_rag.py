"""LlamaIndex RAG over an sbert_rag store: a retriever and a query engine, offline, no LLM needed.

Run: python examples/llamaindex_rag.py
Needs: pip install -e integrations/llamaindex -e integrations/llamaindex-retrievers
-e integrations/llamaindex-vector-stores (requirements-dev.txt installs them). Indexes
examples/corpus into a temporary store with the packaged all-MiniLM-L6-v2, then answers one
question twice: (a) through ``SbertRagRetriever`` (one exact hybrid ``Store.search``) and (b)
through ``VectorStoreIndex.from_vector_store(SbertRagVectorStore)`` as a query engine whose LLM
is LlamaIndex's ``MockLLM`` (it echoes the prompt: swap in a real LLM to get an answer).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.schema import NodeWithScore
from llama_index.retrievers.sbert_rag import SbertRagRetriever
from llama_index.vector_stores.sbert_rag import SbertRagVectorStore

from sbert_rag import Store

CORPUS = Path(__file__).resolve().parent / "corpus"
QUESTION = "how do I stop silent truncation"


def show(hits: list[NodeWithScore]) -> None:
    for hit in hits:
        meta = hit.node.metadata
        span = f"[{meta['start']}:{meta['end']}]"
        print(f"  {hit.score:.3f} {meta['file_name']} {span} {meta.get('title', '')}".rstrip())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "store", create=True)  # packaged default model, no download
        report = store.add_folder(CORPUS)
        print(f"indexed {report.files} files into {report.totals['chunks']} chunks")

        # (a) the retriever: one exact hybrid (dense + BM25) search of the store
        retriever = SbertRagRetriever(store, similarity_top_k=3, mode="hybrid")
        print(f"retriever sources for {QUESTION!r}:")
        show(retriever.retrieve(QUESTION))

        # (b) the vector store under a VectorStoreIndex: the store embeds queries itself, and the
        # index's embed model is the store's own (it is only used if nodes are inserted)
        vector_store = SbertRagVectorStore(store)
        index = VectorStoreIndex.from_vector_store(vector_store, embed_model=vector_store.embed_model())
        engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=3, vector_store_query_mode="hybrid")
        response = engine.query(QUESTION)
        print(f"query engine sources for {QUESTION!r}:")
        show(response.source_nodes)
        print(f"MockLLM answer ({len(str(response))} characters; it echoes the prompt with the sources)")


if __name__ == "__main__":
    main()
