"""Image loading: every accepted format and mode becomes RGB; every bad input is named or skipped."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.image.images import describe, load_image, load_images


def _png_bytes(image: Image.Image, fmt: str = "PNG", **save: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **save)
    return buf.getvalue()


def test_load_image_real_files_all_become_rgb(skimage_pairs) -> None:
    modes = set()
    for path, _ in skimage_pairs:
        with Image.open(path) as raw:
            modes.add(raw.mode)
            size = raw.size
        image = load_image(path)
        assert image.mode == "RGB"
        assert image.size == size
    assert {"RGB", "L", "RGBA"} <= modes  # the set covers grayscale and transparency
    assert any(p.suffix == ".jpg" for p, _ in skimage_pairs)


def test_load_image_grayscale_keeps_values(skimage_pairs) -> None:
    path = next(p for p, _ in skimage_pairs if p.name == "camera.png")
    gray = np.asarray(Image.open(path))
    rgb = np.asarray(load_image(path))
    assert np.array_equal(rgb[..., 0], gray) and np.array_equal(rgb[..., 2], gray)


def test_load_image_transparent_pixels_become_white() -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)  # black, fully transparent...
    rgba[0, 0] = (255, 0, 0, 255)  # ...except one opaque red pixel
    out = np.asarray(load_image(rgba))
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[3, 3]) == (255, 255, 255)


def test_load_image_palette_with_transparency_becomes_white() -> None:
    image = Image.new("P", (3, 3), 0)
    image.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    image.putpixel((1, 1), 1)
    out = np.asarray(load_image(_png_bytes(image, transparency=0)))
    assert tuple(out[0, 0]) == (255, 255, 255) and tuple(out[1, 1]) == (200, 10, 10)


def test_load_image_path_bytes_fileobj_pil_agree(skimage_pairs) -> None:
    path = skimage_pairs[0][0]
    data = path.read_bytes()
    consumed = io.BytesIO(data)
    consumed.read()  # position at the end: a BytesIO is still read whole
    reference = np.asarray(load_image(path))
    for item in (str(path), data, bytearray(data), memoryview(data), consumed, Image.open(path)):
        assert np.array_equal(np.asarray(load_image(item)), reference), describe(item)
    with open(path, "rb") as handle:
        assert np.array_equal(np.asarray(load_image(handle)), reference)


def test_load_image_jpeg_and_cmyk_and_16_bit() -> None:
    rgb = Image.new("RGB", (8, 6), (10, 200, 30))
    assert load_image(_png_bytes(rgb, "JPEG")).size == (8, 6)
    assert load_image(_png_bytes(rgb.convert("CMYK"), "JPEG")).mode == "RGB"
    wide = Image.fromarray(np.full((5, 5), 65535, dtype=np.uint16))
    assert tuple(np.asarray(load_image(wide))[0, 0]) == (255, 255, 255)


def test_load_image_applies_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    data = _png_bytes(Image.new("RGB", (8, 4), (0, 0, 0)), "JPEG", exif=exif)
    assert load_image(data).size == (4, 8)


@pytest.mark.parametrize(
    ("array", "pixel"),
    [
        (np.full((3, 4), 7, dtype=np.uint8), (7, 7, 7)),
        (np.full((3, 4, 1), 7, dtype=np.uint8), (7, 7, 7)),
        (np.full((3, 4, 3), (1, 2, 3), dtype=np.uint8), (1, 2, 3)),
        (np.ones((3, 4), dtype=bool), (255, 255, 255)),
        (np.full((3, 4, 3), 0.5, dtype=np.float32), (128, 128, 128)),
        (np.full((3, 4), 65535, dtype=np.uint16), (255, 255, 255)),
        (np.full((3, 4, 3), 9, dtype=np.int64), (9, 9, 9)),
    ],
)
def test_load_image_arrays(array: np.ndarray, pixel: tuple[int, int, int]) -> None:
    image = load_image(array)
    assert image.mode == "RGB" and image.size == (4, 3)
    assert tuple(np.asarray(image)[0, 0]) == pixel


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((3, 8, 8), dtype=np.uint8), r"transpose\(1, 2, 0\)"),
        (np.zeros((2, 2, 2), dtype=np.uint8), "1, 3 or 4"),
        (np.zeros((0, 4, 3), dtype=np.uint8), "zero-size"),
        (np.full((2, 2), 2.0), r"\[0, 1\]"),
        (np.full((2, 2), np.nan), "NaN"),
        (np.full((2, 2), 300, dtype=np.int32), r"\[0, 255\]"),
        (np.zeros((2, 2), dtype=np.complex64), "unsupported dtype"),
    ],
)
def test_load_image_bad_arrays_raise(array: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        load_image(array, index=5)


def test_load_image_errors_name_index_and_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    with pytest.raises(InvalidInputError, match=r"image 3 \(.*nope\.png\): no such file"):
        load_image(missing, 3)
    with pytest.raises(InvalidInputError, match="is a folder"):
        load_image(tmp_path)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInputError, match=r"empty.png\): empty \(0 bytes\)"):
        load_image(empty)
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    with pytest.raises(InvalidInputError, match="notes.png.*cannot be decoded"):
        load_image(text)
    with pytest.raises(InvalidInputError, match="URLs are not fetched"):
        load_image("https://example.com/cat.png")
    with pytest.raises(InvalidInputError, match="unsupported type int"):
        load_image(42)  # type: ignore[arg-type]


def test_load_image_truncated_file_raises(skimage_pairs) -> None:
    data = skimage_pairs[0][0].read_bytes()
    with pytest.raises(InvalidInputError, match="image 0 .*cannot be decoded"):
        load_image(data[: len(data) // 2])


def test_load_image_zero_size_pil_image() -> None:
    with pytest.raises(InvalidInputError, match=r"zero-size image \(0 x 5"):
        load_image(Image.new("RGB", (0, 5)))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_load_image_unreadable_file(tmp_path: Path) -> None:
    locked = tmp_path / "locked.png"
    locked.write_bytes(_png_bytes(Image.new("RGB", (2, 2))))
    locked.chmod(0)
    with pytest.raises(InvalidInputError, match="cannot be read"):
        load_image(locked)


def test_load_images_error_policy_raises_on_first_bad(tmp_path: Path) -> None:
    good = np.zeros((2, 2, 3), dtype=np.uint8)
    with pytest.raises(InvalidInputError, match=r"image 1 \(.*missing\.png\)"):
        load_images([good, tmp_path / "missing.png", b"junk"])


def test_load_images_skip_policy_reports_every_bad_item(tmp_path: Path) -> None:
    good = np.full((2, 2, 3), 40, dtype=np.uint8)
    items = [good, tmp_path / "missing.png", b"junk", Image.new("RGB", (0, 0)), good]
    loaded = load_images(items, on_bad_image="skip", offset=10)
    assert loaded.indices == (10, 14)
    assert [s.index for s in loaded.skipped] == [11, 12, 13]
    assert loaded.skipped[0].source.endswith("missing.png") and "no such file" in loaded.skipped[0].reason
    assert "image 12" in loaded.skipped[1].reason
    assert all(np.asarray(im)[0, 0, 0] == 40 for im in loaded.images)


def test_load_images_rejects_single_items_and_bad_policy() -> None:
    for single in ("cat.png", b"\x89PNG", Image.new("RGB", (1, 1)), io.BytesIO(b"x"), np.zeros((2, 2))):
        with pytest.raises(InvalidInputError, match="single"):
            load_images(single)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'error', 'skip'"):
        load_images([], on_bad_image="ignore")
    assert load_images([]).images == []
