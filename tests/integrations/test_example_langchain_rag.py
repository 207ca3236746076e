"""examples/langchain_rag.py runs offline as a user would run it, and takes the user's own LLM."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.runnables import RunnableLambda

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "langchain_rag.py"


def test_example_answers_from_the_silent_truncation_note(run_script) -> None:
    out = run_script("examples/langchain_rag.py", "how do I stop silent truncation")
    sources = out.split("sources:\n")[1].split("answer:")[0].splitlines()
    assert sources[0].startswith("  1. silent-truncation.md [")
    assert "answer: (fake LLM" in out


def test_example_chain_uses_the_given_llm_and_context() -> None:
    spec = importlib.util.spec_from_file_location("langchain_rag_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    docs = [Document(page_content="Refuse inputs past the limit.", metadata={"file": "notes.md"})]
    prompts: list[str] = []
    llm = RunnableLambda(lambda prompt: prompts.append(prompt.to_string()) or prompt) | FakeListChatModel(
        responses=["Set overflow to error (notes.md)."]
    )
    result = example.answer("how do I stop truncation?", RunnableLambda(lambda _q: docs), llm)
    assert result == {
        "question": "how do I stop truncation?",
        "docs": docs,
        "answer": "Set overflow to error (notes.md).",
    }
    assert (
        "[notes.md]\nRefuse inputs past the limit." in prompts[0]
        and "how do I stop truncation?" in prompts[0]
    )
