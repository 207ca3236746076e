"""Walking a folder for ``sbert-rag index``: which files are read, as what, and their bytes.

Owns the choice of files (by suffix: text, Markdown, HTML, PDF, and images when a CLIP model is
configured), the paths records carry (relative to the indexed folder, with ``/``), what is never
walked (hidden files and folders, symbolic links to folders, the store itself), which of several
paths to one file is kept (links would index it twice), and reading a file's bytes with a short
reason when it cannot be read. Deliberately does not parse contents
(``readers``) or decide what is stale (``indexer``).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sbert_rag.errors import InvalidInputError

TEXT_KINDS: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
"""Suffix (lower-case) -> how the file is read."""

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})

DUPLICATE_LINK = "symbolic link to a file already indexed"
"""The ``WalkResult.ignored`` reason of a link whose file is indexed under another path."""


@dataclass(frozen=True)
class SourceFile:
    """A file chosen for indexing.

    Attributes:
        rel: path relative to the indexed folder, ``/``-separated; the record key of its chunks.
        path: the path to read.
        kind: ``"text"``, ``"markdown"``, ``"html"``, ``"pdf"`` or ``"image"``.
    """

    rel: str
    path: Path
    kind: str


@dataclass
class WalkResult:
    """What a walk found.

    Attributes:
        files: files to index, sorted by ``rel``.
        ignored: reason -> number of files not chosen (unsupported type, images without CLIP,
            links to a file chosen under another path).
    """

    files: list[SourceFile] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)


def file_kind(name: str, images: bool) -> tuple[str | None, str]:
    """How a file named ``name`` is read (``TEXT_KINDS`` value or ``"image"``), or None and why it is left out.

    Args:
        name: the file's name or path (its suffix decides).
        images: whether images are indexed (the store has a CLIP model).
    """
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in TEXT_KINDS:
        return TEXT_KINDS[suffix], ""
    if suffix in IMAGE_SUFFIXES:
        return ("image", "") if images else (None, "image (the store has no CLIP model)")
    return None, f"unsupported type ({suffix or 'no suffix'})"


def walk_folder(root: Path, *, images: bool, exclude: tuple[Path, ...] = ()) -> WalkResult:
    """Find the files under ``root`` to index.

    Hidden names (leading ``.``) are skipped, folders and files alike, and so are symbolic links
    to folders (no loops) and every folder in ``exclude`` (the store). Links to files are read
    through; a broken one is still listed, so its reading fails with a reason. When several chosen
    paths lead to one file (a link beside its target, two links to one file inside or outside the
    folder), one is kept, so its chunks are not stored twice: the file's own path when it is among
    them, else the first in sorted order; the others count as ``DUPLICATE_LINK``.

    Args:
        root: the folder to walk.
        images: choose image files (a CLIP model is configured).
        exclude: folders never walked.

    Returns:
        The chosen files, sorted, and counts of what was left out.
    """
    skip = {p.resolve() for p in exclude}
    result = WalkResult()
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d for d in dirs
            if not d.startswith(".") and not (here / d).is_symlink() and (here / d).resolve() not in skip
        )
        for name in names:
            if name.startswith("."):
                continue
            path = here / name
            kind, reason = file_kind(name, images)
            if kind is None:
                result.ignored[reason] += 1
                continue
            result.files.append(SourceFile(path.relative_to(root).as_posix(), path, kind))
    result.files.sort(key=lambda f: f.rel)
    _drop_duplicate_links(root, result)
    return result


def _drop_duplicate_links(root: Path, result: WalkResult) -> None:
    """Keep one path per real file among ``result.files`` (sorted), counting the rest as ignored."""
    real_root = Path(os.path.realpath(root))
    groups: dict[str, list[SourceFile]] = {}
    for source in result.files:
        if source.path.is_symlink():  # folders under root are real: links to folders are not walked
            target = os.path.realpath(source.path)
            if os.path.isfile(target):  # a broken link stays listed: reading it gives the reason
                groups.setdefault(target, [])
    if not groups:
        return
    for source in result.files:
        group = groups.get(os.path.realpath(source.path))
        if group is not None:
            group.append(source)
    dropped: set[str] = set()
    for target, sources in groups.items():
        if len(sources) < 2:
            continue
        own = [s for s in sources if str(real_root / s.rel) == target]
        keep = own[0] if own else sources[0]
        dropped.update(s.rel for s in sources if s is not keep)
    result.files = [s for s in result.files if s.rel not in dropped]
    result.ignored[DUPLICATE_LINK] += len(dropped)


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """Read a regular file whole.

    Raises:
        InvalidInputError: it cannot be opened or read (the OS reason), is not a regular file
            (a FIFO, a device), or is larger than ``max_bytes``.
    """
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError("not a regular file (a FIFO, socket or device); nothing to read")
        if info.st_size > max_bytes:
            raise InvalidInputError(
                f"{info.st_size / 1e6:.1f} MB is above the {max_bytes / 1e6:.0f} MB limit; raise --max-file-mb"
            )
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise InvalidInputError(f"cannot read: {err.strerror or err}") from err


def file_hash(data: bytes) -> str:
    """SHA-256 (hex) of a file's bytes."""
    return hashlib.sha256(data).hexdigest()
