"""Fixtures for the LangChain, LlamaIndex and Chroma adapter tests: tiny CLIP, images, Chroma clients.

Also two guards: Chroma's own default embedding function (which downloads an ONNX model) fails
loudly if anything reaches it, and plain ``async def`` tests run under pytest-asyncio even when
the active pytest config is in strict mode (LangChain's standard suites are written for
``asyncio_mode = "auto"``).
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Iterator[None]:
    """Mark coroutine tests collected here with ``asyncio``, as ``asyncio_mode = "auto"`` would.

    Runs inside pytest-asyncio's own wrapper (``trylast``), so the mark is seen when it turns
    coroutine functions into asyncio items.
    """
    outcome = yield
    result = outcome.get_result()
    items = result if isinstance(result, list) else [result]
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(getattr(item, "obj", None)):
            if item.get_closest_marker("asyncio") is None:
                item.add_marker(pytest.mark.asyncio)


@pytest.fixture(autouse=True)
def _no_chroma_default_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if Chroma's default (downloading) embedding function is ever called."""
    from chromadb.utils.embedding_functions import onnx_mini_lm_l6_v2

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Chroma's default ONNX embedding function was used; pass an sbert_rag function")

    monkeypatch.setattr(onnx_mini_lm_l6_v2.ONNXMiniLM_L6_V2, "__call__", refuse)
    monkeypatch.setattr(onnx_mini_lm_l6_v2.ONNXMiniLM_L6_V2, "_download_model_if_not_exists", refuse)


def chroma_settings():  # noqa: ANN201 - chromadb.config.Settings
    """Chroma settings for tests: no telemetry, resets allowed."""
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=True)


@pytest.fixture()
def chroma_client() -> Iterator[object]:
    """A fresh in-memory Chroma client."""
    import chromadb
    from chromadb.api.client import SharedSystemClient

    client = chromadb.EphemeralClient(settings=chroma_settings())
    client.reset()
    yield client
    client.reset()
    SharedSystemClient.clear_system_cache()


@pytest.fixture()
def chroma_path(tmp_path: Path) -> Iterator[Path]:
    """A fresh folder for a ``PersistentClient``; Chroma's client cache is cleared afterwards."""
    from chromadb.api.client import SharedSystemClient

    yield tmp_path / "chroma"
    SharedSystemClient.clear_system_cache()


@pytest.fixture(scope="session")
def _tiny_clip_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    """A seeded random CLIP (1 layer, width 32, 32-px images, patch 16), built once and saved."""
    import torch

    torch.set_num_threads(2)
    from sbert_rag.image import CLIPConfig, CLIPEncoder

    clip = CLIPEncoder.from_config(CLIPConfig.small(), seed=0, device="cpu")
    folder = clip.save(tmp_path_factory.mktemp("tiny_clip") / "clip")
    return clip, Path(folder)


@pytest.fixture()
def tiny_clip(_tiny_clip_session: tuple[object, Path]) -> object:
    """The tiny CLIPEncoder (shared: do not mutate)."""
    return _tiny_clip_session[0]


@pytest.fixture()
def tiny_clip_dir(_tiny_clip_session: tuple[object, Path]) -> Path:
    """Folder of the tiny CLIP, saved by ``CLIPEncoder.save``."""
    return _tiny_clip_session[1]


@pytest.fixture(scope="session")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three distinct 32x32 PNG files: a red square, a blue square, green stripes."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    arrays = {
        "red": np.tile(np.array([220, 20, 20], dtype=np.uint8), (32, 32, 1)),
        "blue": np.tile(np.array([20, 20, 220], dtype=np.uint8), (32, 32, 1)),
        "stripes": np.zeros((32, 32, 3), dtype=np.uint8),
    }
    arrays["stripes"][::4, :, 1] = 255
    paths = {}
    for name, array in arrays.items():
        paths[name] = folder / f"{name}.png"
        Image.fromarray(array).save(paths[name])
    return paths


@pytest.fixture()
def prompted_encoder(tiny_bert_dir: Path) -> object:
    """The tiny BERT with distinct query and passage prompts (words of its vocabulary)."""
    from sbert_rag import TextEncoder

    return TextEncoder.from_pretrained(
        tiny_bert_dir,
        pooling="mean",
        normalize=True,
        device="cpu",
        query_prompt="query ",
        passage_prompt="passage ",
    )


@pytest.fixture()
def pair_dir(prompted_encoder: object, tiny_encoder: object, tmp_path: Path) -> Path:
    """A saved query/passage pair (``query/``, ``passage/``): the prompted tiny BERT as query tower
    (query prompt ``"query "``), the plain one as passage tower (no prompt)."""
    from sbert_rag import DualEncoder

    folder = tmp_path / "pair"
    DualEncoder(prompted_encoder, tiny_encoder).save(folder)  # type: ignore[arg-type]
    return folder


@pytest.fixture()
def spy_on():  # noqa: ANN201 - returns Callable[[type, str], ContextManager[mock.MagicMock]]
    """``spy_on(cls, "method")``: a context manager that records calls to a method and still runs it
    (``hook.call_args_list`` holds them, ``self`` first)."""
    from unittest import mock

    def spy(cls: type, name: str):  # noqa: ANN202
        return mock.patch.object(cls, name, autospec=True, side_effect=getattr(cls, name))

    return spy


ROOT = Path(__file__).resolve().parents[2]


def _run_offline(argv: list[str], timeout: int) -> str:
    """Run ``argv`` with this interpreter in the repository root, offline; stdout, or fail with stderr."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    out = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.fixture()
def run_python():  # noqa: ANN201 - returns Callable[[str], str]
    """A function running code in a fresh interpreter (offline); returns its stdout, fails with its stderr."""

    def run(code: str, timeout: int = 300) -> str:
        return _run_offline(["-c", code], timeout)

    return run


@pytest.fixture()
def run_script():  # noqa: ANN201 - returns Callable[..., str]
    """A function running a repository script (``"examples/chroma_store.py"``, then its arguments)
    as a user would: a fresh offline interpreter in the repository root. Returns its stdout,
    fails with its stderr."""

    def run(script: str, *args: str, timeout: int = 300) -> str:
        return _run_offline([str(ROOT / script), *args], timeout)

    return run
