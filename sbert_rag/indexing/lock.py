"""The two locks of a store: one writer per store, and one process at a time inside Chroma.

Owns ``STORE/index.lock``, the writer lock: an exclusive, non-blocking ``fcntl.flock`` held by an
``sbert-rag index`` run for its whole length, with the holder's pid, host and start time written
into the file so the refusal of a second run can name them. Searches and ``info`` do not take it.

Owns ``STORE/chroma.lock``, the access lock: an exclusive, blocking ``flock`` held around each
short session with the embedded Chroma database, by writers and readers alike. Chroma's local
mode is not safe across processes: a reader that opens a collection while another process
persists its vector index can read half-written files and fail, or crash the interpreter, and
readers persist that index too. With the access lock, sessions take turns (each lasts
milliseconds to a second), so searches run while an index run goes on.

The kernel drops both locks when their holder exits, however it exits (kill -9 included), so a
stale lock never blocks anyone. POSIX only (``fcntl``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sbert_rag.errors import StoreLockedError

LOCK_FILE = "index.lock"
ACCESS_LOCK_FILE = "chroma.lock"


@contextlib.contextmanager
def access_lock(store: str | Path) -> Iterator[None]:
    """Hold the store's access lock (waiting for it) for the body of a ``with`` block."""
    import fcntl

    with open(Path(store) / ACCESS_LOCK_FILE, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class WriterLock:
    """Exclusive writer lock on a store folder.

    Example:
        >>> with WriterLock(".sbert_rag"):
        ...     ...   # write the store
    """

    def __init__(self, store: str | Path) -> None:
        """Prepare the lock of the store folder ``store`` (nothing is taken yet)."""
        self.store = Path(store)
        self.path = self.store / LOCK_FILE
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._file is not None

    def acquire(self) -> None:
        """Take the lock or fail at once.

        Raises:
            StoreLockedError: another process holds it; the message names its pid and start time.
        """
        if not self.try_acquire():
            holder = self.holder()
            who = (
                f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, started {holder.get('started', '?')}"
                if holder else "a process that has not written its pid yet"
            )
            raise StoreLockedError(
                f"store {str(self.store)!r} is being written by another process ({who}). "
                f"Wait for it to finish (searches work meanwhile), or write into another store folder. "
                f"The lock is released when that process exits, even if it is killed.",
                settings=("path",),
            )

    def try_acquire(self) -> bool:
        """Take the lock if it is free; returns whether it was taken (never waits)."""
        import fcntl

        if self._file is not None:
            return True
        self.store.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}))
        handle.flush()
        self._file = handle
        return True

    def release(self) -> None:
        """Drop the lock (a no-op when not held); the file stays for the next run."""
        import fcntl

        if self._file is None:
            return
        fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()
        self._file = None

    def holder(self) -> dict[str, Any]:
        """What the current (or last) holder wrote: ``pid``, ``host``, ``started``; {} if unreadable."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
