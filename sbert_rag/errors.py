"""Exception hierarchy of sbert_rag.

Owns every error type the library raises on purpose. Imports nothing from sbert_rag, so any
module may depend on it. Each error subclasses the matching built-in (ValueError, ImportError,
OSError) so callers that already catch those keep working.
"""

from __future__ import annotations


class SbertRagError(Exception):
    """Base class of every error raised by sbert_rag on purpose.

    Attributes:
        settings: names of the settings (keyword arguments) the fix involves, e.g. ``("model",
            "path")``, so a front end can name them its own way (a command-line flag, a form
            field); empty when the message says it all.
    """

    def __init__(self, *args: object, settings: tuple[str, ...] = ()) -> None:
        super().__init__(*args)
        self.settings = settings


class InvalidInputError(SbertRagError, ValueError):
    """An input value (text, id, k, image) is unusable; the message names it and the fix."""


class InputTooLongError(InvalidInputError):
    """An input has more tokens than the model reads, under the ``error`` overflow policy.

    Attributes:
        index: position of the offending input in the call.
        length: its token count, special tokens and prompt included.
        limit: the most tokens the model reads.
    """

    def __init__(self, index: int, length: int, limit: int, *, what: str = "input") -> None:
        self.index = index
        self.length = length
        self.limit = limit
        super().__init__(
            f"{what} {index} has {length} tokens (prompt and special tokens included) but the model "
            f"reads at most {limit}. Fixes: split it first (sbert_rag chunking), or pass "
            f"overflow='windows' to embed it whole as mean-pooled windows, or overflow='warn' to "
            f"truncate it with a warning."
        )


class ConfigError(SbertRagError, ValueError):
    """A configuration value is invalid; the message lists the allowed values."""


class MissingDependencyError(SbertRagError, ImportError):
    """An optional dependency is not installed; the message gives the pip command."""


class ModelLoadError(SbertRagError, OSError):
    """A model could not be loaded; the message names the path and the missing file."""


class StoreLockedError(SbertRagError, OSError):
    """A store is being written by another process; the message names that process and what to do."""


class StoreUnavailableError(SbertRagError, ConnectionError):
    """A store's server cannot be reached or refused the request; the message names its address."""
