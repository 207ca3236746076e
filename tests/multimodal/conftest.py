"""Fixtures of the multimodal tests: the tiny random CLIP and the real images (as in tests/image/conftest.py).

The CLIP follows tests/conftest.py's recipe: open_clip vision and text configs with 1 layer,
width 32, head width 16, 32-px images, patch 16, and the bundled BPE vocabulary size.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

SKIMAGE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "skimage-clip-captions"


@pytest.fixture(scope="session")
def _tiny_clip_session():
    import torch

    torch.set_num_threads(2)
    from sbert_rag.image import CLIPConfig, CLIPEncoder

    return CLIPEncoder.from_config(CLIPConfig.small(), seed=0, device="cpu", batch_size=4)


@pytest.fixture()
def tiny_clip(_tiny_clip_session):
    """A CLIPEncoder over a tiny random CLIP (dim 32, 32-px images, 77 tokens); a fresh copy per test."""
    return copy.deepcopy(_tiny_clip_session)


@pytest.fixture(scope="session")
def skimage_pairs() -> list[tuple[Path, str]]:
    """The 8 scikit-image pictures (RGB, grayscale, RGBA PNGs and a JPEG) with their captions."""
    if not (SKIMAGE / "captions.jsonl").is_file():
        pytest.skip(f"shared data not found at {SKIMAGE}")
    lines = (SKIMAGE / "captions.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [(SKIMAGE / row["image"], row["caption"]) for row in rows]
