"""The Chroma store example runs offline (the LangChain and LlamaIndex examples have test files of their own), as a user would run them, on the packaged default model."""

from __future__ import annotations

from pathlib import Path


def test_chroma_store_example(tmp_path: Path, run_script) -> None:
    out = run_script("examples/chroma_store.py", str(tmp_path))
    assert "second run: 4 unchanged, 0 chunks added" in out  # the unchanged files were not read again
    modes = out.split("'RFC 5789'\n")[1].splitlines()[:3]
    assert [line.split()[1] for line in modes] == ["rfc9110"] * 3  # dense, bm25, hybrid
    assert "'RFC 5789' -> rfc9110" in out  # through Chroma's query_texts
    assert "same ranking as Store.search(mode='dense'): True" in out
    assert (tmp_path / "store" / "bm25" / "fingerprint.json").exists()
