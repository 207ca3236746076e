"""Import optional dependencies on first use, with an install hint when they are missing.

Owns the one place where heavy or optional modules are imported by name. Does not cache
anything beyond Python's own ``sys.modules``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from types import ModuleType

from sbert_rag.errors import MissingDependencyError

# Which pip extra of sbert-rag brings each optional module.
_EXTRAS = {
    "torch": "sbert-rag",
    "transformers": "sbert-rag",
    "safetensors": "sbert-rag",
    "tqdm": "sbert-rag",
    "open_clip": "sbert-rag[clip]",
    "PIL": "sbert-rag[clip]",
    "bm25s": "sbert-rag[bm25]",
    "chromadb": "sbert-rag[chroma]",
    "pypdf": "sbert-rag[index]",
}


def require(module: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise an error saying how to install it.

    Args:
        module: dotted module name, e.g. ``"transformers"``.
        extra: the pip requirement that provides it; defaults to the known extra.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        top = module.split(".")[0]
        if err.name is not None and err.name.split(".")[0] != top:
            raise  # a dependency of the module itself is broken: show the real error
        hint = extra or _EXTRAS.get(top, top)
        raise MissingDependencyError(
            f"sbert_rag needs the optional package {top!r} here. Install it with: "
            f"python -m pip install '{hint}'"
        ) from err


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' own progress bars ("Loading weights", "Writing model shards") inside.

    sbert_rag reports its own progress; a bar per model load or save only clutters a terminal
    and the output of scripts. The previous setting is restored on exit.
    """
    hf_logging = require("transformers").utils.logging
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
