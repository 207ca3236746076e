"""Shared fixtures: offline settings, 2 torch threads, tiny random models built here.

Sockets are blocked by pytest-socket (see pyproject addopts; loopback stays open for the Chroma
server test), ``HF_HUB_OFFLINE=1`` is set before anything imports huggingface_hub, so a hidden
download fails fast instead of hanging, and Ray keeps to 127.0.0.1.
"""

from __future__ import annotations

import copy
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Ray binds its processes to the address it finds for this machine unless told it runs no
# cluster: then 127.0.0.1, so the Ray tests talk over loopback only (read when ray is imported)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# A ~50-word vocabulary: enough to tokenize the test sentences into several word pieces.
TINY_WORDS = (
    "the a an is are was of to in on and or with for by at from as it this that "
    "cat dog bird fish red blue green big small house tree car runs sits eats "
    "query passage hello world text long short sentence model vector search"
).split()
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *TINY_WORDS, *[f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"], *"abcdefghijklmnopqrstuvwxyz.,!?"]


def _build_tiny_bert(folder: Path) -> Path:
    """Write a seeded BERT (hidden 32, 2 layers, 2 heads, 64 positions) and a WordPiece tokenizer."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(TINY_VOCAB))}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    model = BertModel(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session", autouse=True)
def _torch_threads() -> None:
    """Keep torch on 2 threads, as on CI, without importing it for tests that never need it."""
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain Hugging Face folder (no sentence-transformers files) with a tiny random BERT."""
    import torch

    torch.set_num_threads(2)
    return _build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def _tiny_encoder_session(tiny_bert_dir: Path):
    from sbert_rag import TextEncoder

    return TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", normalize=True, device="cpu", dtype="float32")


@pytest.fixture()
def tiny_encoder(_tiny_encoder_session):
    """A TextEncoder over the tiny BERT (mean pooling, normalised); a fresh copy per test."""
    return copy.deepcopy(_tiny_encoder_session)


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 sentence-transformers folder."""
    from sbert_rag import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def default_encoder():
    """The packaged default model as a TextEncoder (shared: do not mutate)."""
    import torch

    torch.set_num_threads(2)
    from sbert_rag import TextEncoder

    return TextEncoder.from_pretrained(device="cpu", dtype="float32")


# ---------------------------------------------------------------- image branch (tests/image, tests/multimodal)
# The tiny CLIP: open_clip vision and text configs with 1 layer, width 32, head width 16, 32-px
# images, patch 16, and the bundled BPE vocabulary size (CLIPConfig.small()).
SKIMAGE = SHARED_DATA / "skimage-clip-captions"


@pytest.fixture(scope="session")
def _tiny_clip_shared():
    import torch

    torch.set_num_threads(2)
    from sbert_rag.image import CLIPConfig, CLIPEncoder

    return CLIPEncoder.from_config(CLIPConfig.small(), seed=0, device="cpu", batch_size=4)


@pytest.fixture()
def tiny_clip(_tiny_clip_shared):
    """A CLIPEncoder over a tiny random CLIP (dim 32, 32-px images, 77 tokens); a fresh copy per test."""
    return copy.deepcopy(_tiny_clip_shared)


@pytest.fixture(scope="session")
def skimage_pairs() -> list[tuple[Path, str]]:
    """The 8 scikit-image pictures (RGB, grayscale, RGBA PNGs and a JPEG) with their captions."""
    import json

    if not (SKIMAGE / "captions.jsonl").is_file():
        pytest.skip(f"shared data not found at {SKIMAGE}")
    lines = (SKIMAGE / "captions.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [(SKIMAGE / row["image"], row["caption"]) for row in rows]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Start ``chroma run`` on 127.0.0.1 and yield its port; stopped by its pid afterwards."""
    import httpx

    if shutil.which("chroma") is None:
        pytest.fail("the chroma CLI (chromadb wheel) is not on PATH; install requirements-dev.txt")
    port = free_port()
    folder: Path = tmp_path_factory.mktemp("chroma_server")
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        ["chroma", "run", "--path", str(folder / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not start: {(folder / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
