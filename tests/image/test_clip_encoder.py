"""CLIPEncoder on a tiny random CLIP: shapes, normalisation, batching, formats, overflow, errors."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sbert_rag.encoding.tokenize import TruncationWarning
from sbert_rag.errors import ConfigError, InputTooLongError, InvalidInputError


def _unit_rows(x: np.ndarray) -> bool:
    return x.dtype == np.float32 and np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def _random_images(n: int, seed: int = 0) -> list[np.ndarray]:
    """Small random RGB arrays of varied sizes (fast to resize, unlike the real photos)."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (30 + 3 * i, 40 - 2 * i, 3), dtype=np.uint8) for i in range(n)]


def _png_file(folder: Path, name: str, colour: tuple[int, int, int]) -> Path:
    path = folder / name
    Image.new("RGB", (36, 28), colour).save(path)
    return path


def test_encode_images_shape_dtype_unit(tiny_clip, skimage_pairs) -> None:
    out = tiny_clip.encode_images([p for p, _ in skimage_pairs])
    assert out.shape == (8, tiny_clip.dim) == (8, 32)
    assert _unit_rows(out)


def test_encode_texts_shape_dtype_unit(tiny_clip, skimage_pairs) -> None:
    out = tiny_clip.encode_texts([c for _, c in skimage_pairs])
    assert out.shape == (8, 32) and _unit_rows(out)
    assert tiny_clip.encode_texts([]).shape == (0, 32)
    assert tiny_clip.encode_images([]).shape == (0, 32)


def test_encode_batch_equals_one_by_one(tiny_clip, skimage_pairs) -> None:
    paths = _random_images(8)
    captions = [c for _, c in skimage_pairs]
    batched = tiny_clip.encode_images(paths, batch_size=3)
    single = np.concatenate([tiny_clip.encode_images([p]) for p in paths])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    batched_t = tiny_clip.encode_texts(captions, batch_size=3)
    single_t = np.concatenate([tiny_clip.encode_texts([c]) for c in captions])
    np.testing.assert_allclose(batched_t, single_t, atol=1e-5)


def test_encode_shuffled_inputs_give_shuffled_outputs(tiny_clip) -> None:
    paths = _random_images(8, seed=1)
    order = [3, 0, 7, 1, 6, 2, 5, 4]
    base = tiny_clip.encode_images(paths)
    np.testing.assert_allclose(tiny_clip.encode_images([paths[i] for i in order]), base[order], atol=1e-5)


def test_encode_images_formats_agree(tiny_clip, skimage_pairs) -> None:
    path = next(p for p, _ in skimage_pairs if p.suffix == ".jpg")
    data = path.read_bytes()
    image = Image.open(path)
    items = [path, str(path), data, io.BytesIO(data), image, np.asarray(image.convert("RGB"))]
    out = tiny_clip.encode_images(items)
    np.testing.assert_allclose(out, np.repeat(out[:1], len(items), axis=0), atol=1e-5)


def test_encode_images_modes_differ_only_as_pixels_do(tiny_clip) -> None:
    gray = np.full((40, 40), 90, dtype=np.uint8)
    same_rgb = np.repeat(gray[..., None], 3, axis=2)
    opaque_rgba = np.concatenate([same_rgb, np.full((40, 40, 1), 255, dtype=np.uint8)], axis=2)
    out = tiny_clip.encode_images([gray, same_rgb, opaque_rgba])
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)
    np.testing.assert_allclose(out[0], out[2], atol=1e-6)


def test_encode_images_error_names_index_and_path(tiny_clip, tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(InvalidInputError, match=r"image 5 \(.*broken\.png\): cannot be decoded"):
        tiny_clip.encode_images(_random_images(5) + [bad])


def test_encode_images_with_report_skips_and_keeps_others_right(tiny_clip, tmp_path: Path) -> None:
    good = [_png_file(tmp_path, f"{i}.png", (60 * i, 90, 200)) for i in range(3)]
    items = [good[0], tmp_path / "gone.png", good[1], b"", good[2]]
    result = tiny_clip.encode_images_with_report(items, batch_size=2)
    assert result.indices == (0, 2, 4)
    assert [s.index for s in result.skipped] == [1, 3]
    assert "no such file" in result.skipped[0].reason and "empty" in result.skipped[1].reason
    np.testing.assert_allclose(result.embeddings, tiny_clip.encode_images(good), atol=1e-5)
    with pytest.raises(InvalidInputError, match="image 1"):
        tiny_clip.encode_images_with_report(items, on_bad_image="error")


def test_encode_texts_blank_and_bare_string_raise(tiny_clip) -> None:
    with pytest.raises(InvalidInputError, match="text 1 is empty"):
        tiny_clip.encode_texts(["a cat", "   "])
    with pytest.raises(InvalidInputError, match="single str"):
        tiny_clip.encode_texts("a cat")


def test_count_tokens_includes_start_and_end(tiny_clip) -> None:
    assert tiny_clip.max_tokens == 77
    assert tiny_clip.count_tokens(["a " * 75, "a " * 76]) == [77, 78]


def test_overflow_exact_limit_is_not_truncated(tiny_clip) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny_clip.encode_texts(["a " * 75])
    assert tiny_clip.last_report.truncated == ()


def test_overflow_warn_truncates_with_one_warning_naming_indices(tiny_clip) -> None:
    long = "a photo of a cat " * 20
    message = r"2 of 3 texts exceed the model's 77 tokens.*indices: 0, 2"
    with pytest.warns(TruncationWarning, match=message) as record:
        out = tiny_clip.encode_texts([long, "a dog", long + " and more words after the cut"])
    assert len(record) == 1
    assert tiny_clip.last_report.truncated == (0, 2)
    np.testing.assert_allclose(out[0], out[2], atol=1e-6)  # what lies past the limit is dropped


def test_overflow_error_raises_input_too_long(tiny_clip) -> None:
    with pytest.raises(InputTooLongError, match="text 1 has 102 tokens.*at most 77") as info:
        tiny_clip.encode_texts(["short", "a " * 100], overflow="error")
    assert (info.value.index, info.value.length, info.value.limit) == (1, 102, 77)


def test_overflow_windows_keeps_everything(tiny_clip) -> None:
    long = "a photo of a cat " * 20
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        texts = [long, long + " and more words after the cut", "a dog"]
        result = tiny_clip.encode_texts_with_report(texts, overflow="windows")
    assert result.report.windowed[0] >= 2 and 2 not in result.report.windowed
    assert _unit_rows(result.embeddings)
    assert not np.allclose(result.embeddings[0], result.embeddings[1], atol=1e-4)  # the tail counts
    np.testing.assert_allclose(result.embeddings[2], tiny_clip.encode_texts(["a dog"])[0], atol=1e-6)


def test_save_load_round_trip(tiny_clip, tmp_path: Path) -> None:
    from sbert_rag.image import CLIPEncoder

    folder = tiny_clip.save(tmp_path / "clip")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    loaded = CLIPEncoder.load(folder, device="cpu")
    assert loaded.config == tiny_clip.config
    images = _random_images(2)
    np.testing.assert_allclose(loaded.encode_images(images), tiny_clip.encode_images(images), atol=1e-6)
    np.testing.assert_allclose(loaded.encode_texts(["a cat"]), tiny_clip.encode_texts(["a cat"]), atol=1e-6)


def test_bfloat16_outputs_float32_close_to_float32(tiny_clip) -> None:
    from sbert_rag.image import CLIPEncoder

    low = CLIPEncoder.from_config(tiny_clip.config, seed=0, device="cpu", dtype="bf16")
    ref = CLIPEncoder.from_config(tiny_clip.config, seed=0, device="cpu")
    image = _random_images(1)
    a, b = low.encode_images(image), ref.encode_images(image)
    assert a.dtype == np.float32 and float(a[0] @ b[0]) > 0.98
    t_low, t_ref = low.encode_texts(["a red cube"]), ref.encode_texts(["a red cube"])
    assert t_low.dtype == np.float32 and float(t_low[0] @ t_ref[0]) > 0.98


def test_constructor_options_are_validated(tiny_clip) -> None:
    from sbert_rag.image import CLIPEncoder

    for bad in ({"device": "toaster"}, {"dtype": "int8"}, {"overflow": "drop"}, {"batch_size": 0}):
        with pytest.raises(ConfigError):
            CLIPEncoder(tiny_clip.model, tiny_clip.config, **bad)
    assert "CLIPEncoder(dim=32" in repr(tiny_clip)
