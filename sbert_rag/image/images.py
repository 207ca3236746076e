"""Load and validate images: file paths, bytes, file objects, PIL images and numpy arrays -> RGB.

Owns turning whatever a user hands in into an RGB ``PIL.Image`` or a clear error naming the item
(its index, and its path when it has one), plus the explicit ``skip`` policy that drops bad items
and reports each one. Deliberately does no resizing or normalisation (that is the model's
preprocessing, in ``clip_encoder``) and never fetches URLs. PIL is imported on first use.

Conversions: grayscale, palette, CMYK and the other 8-bit modes go through PIL's ``convert``;
images with transparency (RGBA, LA, palette with a transparent colour) are composited onto
white, so a transparent figure with black lines does not become an all-black square; 16-bit
images are scaled to 8 bits; EXIF orientation is applied; only the first frame of an
animation is used.
"""

from __future__ import annotations

import enum
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from sbert_rag._deps import require
from sbert_rag.config import parse_enum
from sbert_rag.errors import InvalidInputError

if TYPE_CHECKING:
    from PIL import Image

ImageInput = Union[
    str, "os.PathLike[str]", bytes, bytearray, memoryview, io.IOBase, "Image.Image", np.ndarray
]
"""Anything :func:`load_image` accepts."""

_WHITE = (255, 255, 255)
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class OnBadImage(str, enum.Enum):
    """What to do with an item that is not a usable image."""

    ERROR = "error"  # raise InvalidInputError naming the item (the default)
    SKIP = "skip"  # leave it out and report it in ``LoadedImages.skipped``


@dataclass(frozen=True)
class SkippedImage:
    """One item left out under the ``skip`` policy.

    Attributes:
        index: position of the item in the call.
        source: the path, or a short description (``"bytes (12 bytes)"``, ``"ndarray (0, 4)"``).
        reason: why it was left out (the message the ``error`` policy would have raised).
    """

    index: int
    source: str
    reason: str


@dataclass(frozen=True)
class LoadedImages:
    """The usable images of a call and what was skipped.

    Attributes:
        images: RGB images, in input order, bad items left out.
        indices: input index of each image in ``images``.
        skipped: the items left out, in input order (empty under the ``error`` policy).
    """

    images: list[Image.Image]
    indices: tuple[int, ...]
    skipped: tuple[SkippedImage, ...]


def parse_on_bad_image(value: object) -> OnBadImage:
    """Parse a bad-image policy (``error`` or ``skip``)."""
    return parse_enum(OnBadImage, value, "on_bad_image")


def describe(item: object) -> str:
    """A short, printable description of an image input: its path, or its type and size."""
    if isinstance(item, (str, os.PathLike)):
        return str(os.fspath(item))
    if isinstance(item, (bytes, bytearray, memoryview)):
        return f"bytes ({len(item)} bytes)"
    if isinstance(item, np.ndarray):
        return f"ndarray {item.shape} {item.dtype}"
    name = getattr(item, "filename", "") or getattr(item, "name", "")
    if isinstance(name, str) and name:
        return f"{type(item).__name__} {name!r}"
    return type(item).__name__


def load_image(item: ImageInput, index: int = 0) -> Image.Image:
    """Load one image as RGB.

    Args:
        item: a file path (``str`` or ``os.PathLike``), encoded image bytes, a binary file object
            (a ``BytesIO`` is read whole, other objects from their current position), a
            ``PIL.Image.Image``, or a numpy array of shape (height, width), (height, width, 1),
            (height, width, 3) or (height, width, 4): uint8 or uint16, bool, or float in [0, 1].
        index: the item's position in the caller's list, used in error messages.

    Returns:
        An RGB ``PIL.Image.Image`` of at least 1 x 1 pixel, fully decoded.

    Raises:
        InvalidInputError: the path is missing, a folder, unreadable or a URL; the data is empty,
            not an image or corrupt; the image has zero width or height; the array has an
            unsupported shape, dtype or value range. The message names ``index`` and the path.
    """
    pil = require("PIL.Image")
    where = f"image {index} ({describe(item)})"
    if isinstance(item, pil.Image):
        return _finish(item, where, pil)
    if isinstance(item, np.ndarray):
        return _finish(_from_array(item, where, pil), where, pil)
    if isinstance(item, (str, os.PathLike)):
        data = _read_path(item, where)
    elif isinstance(item, (bytes, bytearray, memoryview)):
        data = bytes(item)
    elif hasattr(item, "getvalue"):
        data = item.getvalue()  # a BytesIO: the whole buffer, whatever its position
    elif hasattr(item, "read"):
        data = item.read()
    else:
        raise InvalidInputError(
            f"{where}: unsupported type {type(item).__name__}; pass a file path, bytes, a binary file "
            f"object, a PIL image or a numpy array (height, width[, channels])"
        )
    if not isinstance(data, (bytes, bytearray)):
        raise InvalidInputError(
            f"{where}: the file object returned {type(data).__name__}, not bytes; open it in binary mode"
        )
    if len(data) == 0:
        raise InvalidInputError(f"{where}: empty (0 bytes); it holds no image")
    try:
        opened = pil.open(io.BytesIO(data))
        opened.load()  # decode now, so truncated data fails here and not inside the model
    except (OSError, ValueError, SyntaxError, EOFError, pil.DecompressionBombError) as err:
        raise InvalidInputError(
            f"{where}: cannot be decoded as an image ({err}); pass a PNG, JPEG, GIF, BMP, TIFF or WebP "
            f"file, or on_bad_image='skip' to leave bad items out with a report"
        ) from err
    ops = require("PIL.ImageOps")
    return _finish(ops.exif_transpose(opened), where, pil)


def load_images(
    items: Iterable[ImageInput], on_bad_image: OnBadImage | str = OnBadImage.ERROR, *, offset: int = 0
) -> LoadedImages:
    """Load many images as RGB, raising on the first bad item or skipping bad items with a report.

    Args:
        items: a list or iterable of anything :func:`load_image` accepts (not a bare path string).
        on_bad_image: ``"error"`` (raise on the first bad item) or ``"skip"`` (leave bad items
            out and list them in ``skipped``).
        offset: input index of ``items[0]`` in the caller's list (when loading a slice of it);
            indices in messages, ``indices`` and ``skipped`` count from it.

    Returns:
        The loaded images, the input index of each, and the skipped items.

    Raises:
        InvalidInputError: under ``error``, the first bad item (see :func:`load_image`); under
            either policy, ``items`` is a bare string, bytes or single image instead of a list.
        ConfigError: ``on_bad_image`` is not ``error`` or ``skip``.
    """
    policy = parse_on_bad_image(on_bad_image)
    listed = as_item_list(items)
    images: list[Image.Image] = []
    indices: list[int] = []
    skipped: list[SkippedImage] = []
    for i, item in enumerate(listed, start=offset):
        try:
            images.append(load_image(item, i))
        except InvalidInputError as err:
            if policy is OnBadImage.ERROR:
                raise
            skipped.append(SkippedImage(index=i, source=describe(item), reason=str(err)))
            continue
        indices.append(i)
    return LoadedImages(images=images, indices=tuple(indices), skipped=tuple(skipped))


def as_item_list(items: Iterable[ImageInput]) -> list[Any]:
    """Materialise ``items`` as a list, refusing a single item passed where a list is expected.

    Raises:
        InvalidInputError: ``items`` is a string, path, bytes, array, file object or image
            rather than a list.
    """
    single = isinstance(items, (str, os.PathLike, bytes, bytearray, memoryview, np.ndarray))
    if single or hasattr(items, "getpixel") or hasattr(items, "read"):
        raise InvalidInputError(
            f"expected a list of images, got a single {type(items).__name__}; wrap it in a list: [image]"
        )
    try:
        return list(items)
    except TypeError as err:
        raise InvalidInputError(f"expected a list or iterable of images, got {type(items).__name__}") from err


def _read_path(item: str | os.PathLike[str], where: str) -> bytes:
    text = os.fspath(item)
    if isinstance(text, str) and text.lower().startswith(("http://", "https://", "ftp://")):
        raise InvalidInputError(f"{where}: URLs are not fetched; download the file and pass its path")
    path = Path(text)
    if not path.exists():
        raise InvalidInputError(f"{where}: no such file; check the path (relative to {os.getcwd()})")
    if path.is_dir():
        raise InvalidInputError(f"{where}: is a folder, not an image file; pass the files inside it")
    try:
        return path.read_bytes()
    except OSError as err:
        reason = err.strerror or err
        raise InvalidInputError(f"{where}: cannot be read ({reason}); check its permissions") from err


def _from_array(arr: np.ndarray, where: str, pil: Any) -> Image.Image:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        hint = ""
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4):
            hint = "; a channel-first array needs arr.transpose(1, 2, 0) first"
        raise InvalidInputError(
            f"{where}: expected shape (height, width) or (height, width, channels) with 1, 3 or 4 "
            f"channels, got {arr.shape}{hint}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInputError(f"{where}: zero-size image ({arr.shape[1]} x {arr.shape[0]} pixels)")
    arr = _to_uint8(arr, where)
    image = pil.fromarray(np.ascontiguousarray(arr))
    return image


def _to_uint8(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return np.round(arr / 257.0).astype(np.uint8)  # 65535 / 257 = 255 exactly
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InvalidInputError(f"{where}: holds NaN or infinite values")
        low, high = float(arr.min()), float(arr.max())
        if low < 0.0 or high > 1.0:
            raise InvalidInputError(
                f"{where}: float pixels must lie in [0, 1], got [{low:g}, {high:g}]; divide by 255 "
                f"first, or pass a uint8 array"
            )
        return np.round(arr * 255.0).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high > 255:
            raise InvalidInputError(
                f"{where}: integer pixels must lie in [0, 255], got [{low}, {high}]; "
                f"pass uint16 for 16-bit data"
            )
        return arr.astype(np.uint8)
    raise InvalidInputError(
        f"{where}: unsupported dtype {arr.dtype}; use uint8, uint16, bool or float in [0, 1]"
    )


def _finish(image: Image.Image, where: str, pil: Any) -> Image.Image:
    """Decode, check the size and convert to RGB."""
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise InvalidInputError(f"{where}: the image cannot be decoded ({err})") from err
    width, height = image.size
    if width == 0 or height == 0:
        raise InvalidInputError(f"{where}: zero-size image ({width} x {height} pixels)")
    return _to_rgb(image, pil)


def _to_rgb(image: Image.Image, pil: Any) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _SIXTEEN_BIT_MODES:
        arr = np.asarray(image).astype(np.float64)
        scaled = np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8)  # 16-bit -> 8-bit
        return pil.fromarray(scaled).convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = pil.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
