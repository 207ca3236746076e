"""``import sbert_rag`` stays light: no torch, no transformers until an encoder is built."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_import_does_not_load_torch_or_transformers() -> None:
    code = (
        "import sys, sbert_rag; "
        "names = sbert_rag.__all__; "
        "heavy = [m for m in ('torch', 'transformers', 'open_clip', 'bm25s', 'chromadb', 'PIL') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported by 'import sbert_rag': {out.stdout}"


def test_lazy_names_resolve_and_unknown_name_fails() -> None:
    import sbert_rag

    assert sbert_rag.InvalidInputError.__module__ == "sbert_rag.errors"
    for name in sbert_rag.__all__:
        assert getattr(sbert_rag, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        sbert_rag.Nope  # noqa: B018
