"""Validation of text inputs at the public boundary: n strings in, or a clear error.

Owns the checks every encode call makes once; internals trust what passes here.
"""

from __future__ import annotations

from collections.abc import Iterable

from sbert_rag.errors import InvalidInputError


def validate_texts(texts: Iterable[str], what: str = "input", offset: int = 0) -> list[str]:
    """Materialise ``texts`` as a list, refusing anything that is not a non-blank string.

    Args:
        texts: a list, tuple or any iterable of strings.
        what: the word for one input in messages (``query``, ``passage``, ``text``).
        offset: index of the first item in the caller's whole input (for streamed blocks).

    Raises:
        InvalidInputError: ``texts`` is a bare string or bytes, or an item is None, not a
            string, empty or whitespace-only; the message gives its index.
    """
    if isinstance(texts, (str, bytes)):
        raise InvalidInputError(
            f"expected a list of {what}s, got a single {type(texts).__name__}; wrap it in a list: [text]"
        )
    try:
        items = list(texts)
    except TypeError as err:
        raise InvalidInputError(f"expected a list or iterable of {what}s, got {type(texts).__name__}") from err
    for i, item in enumerate(items, start=offset):
        if item is None:
            raise InvalidInputError(f"{what} {i} is None; pass a non-empty string (drop or fill missing {what}s first)")
        if not isinstance(item, str):
            raise InvalidInputError(f"{what} {i} is a {type(item).__name__}, not a string; convert it with str() first")
        if not item.strip():
            raise InvalidInputError(
                f"{what} {i} is empty or whitespace-only ({item!r}); it has no meaning to embed, drop it first"
            )
    return items
