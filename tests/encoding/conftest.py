"""Fixtures that run a test once per forward path of TextEncoder on the tiny random BERT.

The paths (``TextEncoder.forward_path``): ``masked`` (the Hugging Face forward over padded batches
with an attention mask: ``packed=False``, also what GPUs and training run), ``packed`` (the
padding-free forward, ``packed=True``) and ``numpy`` (the default CPU float32 load, torch-free:
calls of up to ``NUMPY_MAX_TOKENS`` tokens run ``NumpyBert``). After each test the fixture checks
that every encode call of every encoder it made ran on that path, and that at least one ran.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sbert_rag import TextEncoder

FORWARD_PATHS = ("masked", "packed", "numpy")
_OPTIONS: dict[str, dict[str, Any]] = {"masked": {"packed": False}, "packed": {"packed": True}, "numpy": {}}
_EXPECTED = {"masked": "masked", "packed": "packed", "numpy": "numpy+packed"}

LoadOnPath = Callable[..., TextEncoder]


def load_on(path: str, folder: Path, **options: Any) -> TextEncoder:
    """``folder`` loaded on the CPU in float32 (unless ``options`` say otherwise) on forward ``path``."""
    if path == "numpy" and options.get("dtype", "float32") != "float32":
        raise ValueError("the numpy forward runs float32 only: parametrise the test over the other paths")
    enc = TextEncoder.from_pretrained(folder, **{"device": "cpu", "dtype": "float32", **options, **_OPTIONS[path]})
    assert enc.forward_path == _EXPECTED[path]
    return enc


def _spy(enc: TextEncoder, calls: list[str]) -> None:
    """Record the path of every forward ``enc`` runs (instance attributes shadow the methods)."""
    forward_rows = enc._forward_rows

    def torch_forward(rows: list[list[int]], exclude_first: int) -> Any:
        calls.append("packed" if enc.uses_packed() else "masked")
        return forward_rows(rows, exclude_first)

    enc._forward_rows = torch_forward  # type: ignore[method-assign]
    torch_free = enc._torch_free
    if torch_free is not None:
        numpy_encode = torch_free.encode

        def numpy_forward(*args: Any, **kwargs: Any) -> Any:
            calls.append("numpy")
            return numpy_encode(*args, **kwargs)

        torch_free.encode = numpy_forward  # type: ignore[method-assign]


@pytest.fixture(params=FORWARD_PATHS)
def forward_path(request: pytest.FixtureRequest) -> str:
    """Each forward path in turn: ``masked``, ``packed``, ``numpy``."""
    return str(request.param)


@pytest.fixture()
def load_on_path(forward_path: str, tiny_bert_dir: Path) -> Iterator[LoadOnPath]:
    """``load(folder=None, **options)``: a TextEncoder of ``folder`` (default the tiny BERT) on the path under test."""
    calls: list[str] = []
    loaded: list[TextEncoder] = []

    def load(folder: Path | None = None, **options: Any) -> TextEncoder:
        enc = load_on(forward_path, folder or tiny_bert_dir, **options)
        _spy(enc, calls)
        loaded.append(enc)
        return enc

    yield load
    assert loaded, "the test loaded no encoder"
    assert calls, "no encode call ran a forward"
    assert set(calls) == {forward_path}, f"the {forward_path} test ran forwards {sorted(set(calls))}"


@pytest.fixture()
def path_encoder(load_on_path: LoadOnPath) -> TextEncoder:
    """The tiny BERT (mean pooling, normalised) on each forward path in turn, as ``tiny_encoder`` on the default one."""
    return load_on_path(pooling="mean", normalize=True)


@pytest.fixture()
def load_every_path() -> Callable[..., dict[str, TextEncoder]]:
    """``load(folder, **options)``: ``{path: encoder}`` with ``folder`` loaded on each forward path."""

    def load(folder: Path, **options: Any) -> dict[str, TextEncoder]:
        return {path: load_on(path, folder, **options) for path in FORWARD_PATHS}

    return load
