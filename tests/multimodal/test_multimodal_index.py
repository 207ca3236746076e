"""MultimodalIndex with deterministic fake encoders, then once with the tiny real models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.multimodal import MultimodalChunk, MultimodalIndex
from sbert_rag.types import Chunk, Encoder, Hit

COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}
WORDS = ["red", "green", "blue", "cat", "dog", "car", "tree", "house"]


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class WordEncoder:
    """Bag of known words; a text with none of them gets a small constant vector."""

    dim = len(WORDS)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        rows = [[float(w in t.lower().split()) for w in WORDS] for t in texts]
        return _unit(np.asarray(rows, dtype=np.float32).reshape(-1, self.dim) + 0.01)

    encode_queries = encode_passages


class ColourCLIP:
    """Images -> mean RGB; texts -> the colour words they name. Enough to rank by colour."""

    dim = 3

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        rows = [np.asarray(im, dtype=np.float32).reshape(-1, 3).mean(axis=0) / 255 for im in images]
        return _unit(np.asarray(rows).reshape(-1, 3) + 0.01)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        rows = [np.sum([COLOURS[w] for w in t.split() if w in COLOURS] or [(0, 0, 0)], axis=0) for t in texts]
        return _unit(np.asarray(rows, dtype=np.float32).reshape(-1, 3) + 0.01)


def _solid(colour: str) -> Image.Image:
    return Image.new("RGB", (8, 8), tuple(int(255 * c) for c in COLOURS[colour]))


@pytest.fixture()
def index() -> MultimodalIndex:
    idx = MultimodalIndex(WordEncoder(), ColourCLIP())
    idx.add([
        MultimodalChunk("t-cat", text="the cat sleeps"),
        MultimodalChunk("t-car", text="a fast car"),
        MultimodalChunk("i-red", image=_solid("red")),
        MultimodalChunk("i-blue", image=_solid("blue")),
        MultimodalChunk("f-green", text="figure of a green tree", image=_solid("green")),
    ])
    return idx


def test_fake_encoders_satisfy_the_protocol() -> None:
    assert isinstance(WordEncoder(), Encoder)


def test_add_stores_every_kind(index: MultimodalIndex) -> None:
    assert len(index) == 5 and index.ids[0] == "t-cat" and "f-green" in index
    assert index.get("f-green").has_text and index.get("f-green").has_image


def test_text_query_fuses_both_spaces(index: MultimodalIndex) -> None:
    hits = index.search("green tree", k=5)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert hits[0].id == "f-green" and hits[0].source == "rrf"  # first in both rankings
    assert all(isinstance(h, Hit) for h in hits)
    # best rank per chunk, not a sum: "f-green", ranked in both spaces, does not beat the two firsts
    assert [h.id for h in index.search("a red car", k=2)] == ["t-car", "i-red"]


def test_text_query_on_one_space_keeps_cosine_scores() -> None:
    only_images = MultimodalIndex(image_encoder=ColourCLIP())
    only_images.add([MultimodalChunk(c, image=_solid(c)) for c in COLOURS])
    hits = only_images.search("blue", k=3)
    assert [h.id for h in hits][0] == "blue" and hits[0].source == "image"
    assert hits[0].score == pytest.approx(1.0, abs=0.02)
    batch = only_images.search_batch(["red", "green"], k=1)
    assert [b[0].id for b in batch] == ["red", "green"]


def test_image_query_searches_images_only(index: MultimodalIndex) -> None:
    hits = index.search_by_image(np.full((4, 4, 3), (0, 0, 250), dtype=np.uint8), k=3)
    assert hits[0].id == "i-blue" and all(h.source == "image" for h in hits)
    assert {h.id for h in hits} <= {"i-red", "i-blue", "f-green"}
    with pytest.raises(InvalidInputError, match=r"k must be an integer in \[1, 3\]"):
        index.search_by_image(_solid("red"), k=4)


def test_search_k_and_query_errors(index: MultimodalIndex) -> None:
    for k in (0, 6, 2.0, True):
        with pytest.raises(InvalidInputError, match=r"k must be an integer in \[1, 5\]"):
            index.search("cat", k=k)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="query 0 is empty"):
        index.search(" ")
    with pytest.raises(InvalidInputError, match="holds no chunks"):
        MultimodalIndex(WordEncoder()).search("cat")


def test_add_rejects_duplicates_and_missing_encoders(index: MultimodalIndex) -> None:
    with pytest.raises(InvalidInputError, match="'t-cat' at item 0 is already in the index"):
        index.add([MultimodalChunk("t-cat", text="again")])
    with pytest.raises(InvalidInputError, match="'x' at item 1 repeats item 0"):
        index.add([MultimodalChunk("x", text="a"), MultimodalChunk("x", text="b")])
    with pytest.raises(InvalidInputError, match="item 0 is a str"):
        index.add(["just text"])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="no image_encoder is set"):
        MultimodalIndex(WordEncoder()).add([MultimodalChunk("i", image=_solid("red"))])
    with pytest.raises(InvalidInputError, match="no text_encoder is set"):
        MultimodalIndex(image_encoder=ColourCLIP()).add([MultimodalChunk("t", text="cat")])
    assert len(index) == 5


def test_bad_image_error_leaves_index_unchanged(index: MultimodalIndex, tmp_path: Path) -> None:
    before = index.search("red cat", k=5)
    missing = tmp_path / "x.png"
    batch = [MultimodalChunk("ok", text="a dog"), MultimodalChunk("bad", text="caption", image=missing)]
    with pytest.raises(InvalidInputError, match=r"chunk 'bad': image 1 \(.*x\.png\): no such file"):
        index.add(batch)
    assert len(index) == 5 and "ok" not in index
    assert index.search("red cat", k=5) == before


def test_bad_image_skip_reports_and_stores_the_rest(index: MultimodalIndex, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff not a jpeg")
    report = index.add(
        [MultimodalChunk("dog", text="a dog"), MultimodalChunk("bad", text="caption", image=corrupt),
         MultimodalChunk("i-green2", image=_solid("green"))],
        on_bad_image="skip",
    )
    assert report.added == ("dog", "i-green2")
    assert [(s.chunk_id, s.index) for s in report.skipped] == [("bad", 1)]
    assert "corrupt.jpg" in report.skipped[0].reason and "bad" not in index
    assert "dog" in [h.id for h in index.search("dog", k=2)]
    assert index.search_by_image(_solid("green"), k=2)[0].id in {"f-green", "i-green2"}


def test_chunk_validation_and_from_chunk() -> None:
    with pytest.raises(InvalidInputError, match="neither text nor image"):
        MultimodalChunk("a")
    with pytest.raises(InvalidInputError, match="non-blank string"):
        MultimodalChunk("a", text="  ")
    with pytest.raises(InvalidInputError, match="chunk_id"):
        MultimodalChunk("", text="x")
    text_chunk = Chunk(doc_id="d", text="Fig. 1", start=4, end=10, title="T")
    chunk = MultimodalChunk.from_chunk(text_chunk, image=b"png")
    assert chunk.chunk_id == "d@4" and chunk.has_image
    assert chunk.metadata == {"start": 4, "end": 10, "title": "T"}


def test_index_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="text_encoder, an image_encoder"):
        MultimodalIndex()
    with pytest.raises(ConfigError, match="both be 0"):
        MultimodalIndex(WordEncoder(), text_weight=0, image_weight=0)
    with pytest.raises(ConfigError, match="depth"):
        MultimodalIndex(WordEncoder(), depth=0)


def test_real_tiny_models_end_to_end(tiny_clip, tiny_encoder, skimage_pairs) -> None:
    index = MultimodalIndex(tiny_encoder, tiny_clip)
    chunks = [MultimodalChunk(p.stem, image=p) for p, _ in skimage_pairs]
    chunks.append(MultimodalChunk("note", text="the cat sits on the house"))
    chunks.append(MultimodalChunk("fig", text="a red car", image=skimage_pairs[5][0]))
    assert len(index.add(chunks).added) == 10
    for path, _ in skimage_pairs[:3]:
        top = index.search_by_image(path, k=1)[0]
        assert top.id == path.stem and top.score == pytest.approx(1.0, abs=1e-4)
    hits = index.search("a cat sits", k=10)
    assert len(hits) == 10 and len({h.id for h in hits}) == 10 and hits[0].source == "rrf"
