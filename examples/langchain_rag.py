"""LangChain RAG over an sbert_rag store: index a folder, retrieve hybrid, answer with an LCEL chain.

Run: python examples/langchain_rag.py ["your question"]
Needs: pip install -r requirements-dev.txt (sbert-rag and langchain-sbert-rag). Offline, in seconds:
examples/corpus is indexed into a temporary store with the packaged all-MiniLM-L6-v2,
``SbertRagRetriever`` finds the best chunks (dense + BM25), and ``prompt | llm | StrOutputParser``
answers from them. The LLM is a fake that returns a fixed reply unless you pass your own to
``answer()`` (any LangChain LLM or chat model, e.g. ``ChatOpenAI()``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableParallel, RunnablePassthrough
from langchain_sbert_rag import SbertRagRetriever

from sbert_rag import Store

CORPUS = Path(__file__).resolve().parent / "corpus"
QUESTION = "how do I stop silent truncation"
PROMPT = ChatPromptTemplate.from_template(
    "Answer the question from the context only, and name the files you used.\n\n"
    "Context:\n{context}\n\nQuestion: {question}"
)
FAKE_REPLY = "(fake LLM: pass your own model to answer() for a real answer; the sources above are real)"


def format_context(docs: list[Document]) -> str:
    """The retrieved chunks, each headed by its file, for the prompt."""
    return "\n\n".join(f"[{doc.metadata['file']}]\n{doc.page_content}" for doc in docs)


def answer(question: str, retriever: Runnable, llm: Runnable | None = None) -> dict:
    """Retrieve once, answer from the retrieved chunks; returns ``{"question", "docs", "answer"}``.

    Args:
        question: the question.
        retriever: an ``SbertRagRetriever`` (any retriever returning Documents with a ``file`` key).
        llm: a LangChain LLM or chat model; None = a fake with a fixed reply.
    """
    llm = llm or FakeListLLM(responses=[FAKE_REPLY])
    generate = (lambda x: {"context": format_context(x["docs"]), "question": x["question"]}) | PROMPT | llm
    chain = RunnableParallel(docs=retriever, question=RunnablePassthrough()).assign(
        answer=generate | StrOutputParser()
    )
    return chain.invoke(question)


def main(question: str = QUESTION) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "store", create=True)  # packaged default model, offline
        report = store.add_folder(CORPUS)
        print(f"indexed {report.files} files into {report.totals['chunks']} chunks")
        retriever = SbertRagRetriever.from_store(store, k=3)  # hybrid: dense + BM25
        result = answer(question, retriever)
        print(f"question: {question}")
        print("sources:")
        for rank, doc in enumerate(result["docs"], start=1):
            meta = doc.metadata
            print(f"  {rank}. {meta['file']} [{meta['start']}:{meta['end']}] score {meta['score']:.3f}")
        print(f"answer: {result['answer']}")


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or QUESTION)
