"""PEP 562 lazy exports: a package names its public objects, the defining modules load on first use.

Owns the one ``__getattr__`` / ``__dir__`` pair the packages of sbert_rag share, so importing a
package (``sbert_rag``, ``sbert_rag.image`` ...) loads no torch, transformers or open_clip.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose public ``names`` map to their modules.

    A resolved name is stored in ``namespace`` (the package's globals), so later lookups are
    plain attribute reads.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(namespace.get("__all__", names))

    return __getattr__, __dir__
