"""A store whose records live on a Chroma server (``chroma run``), reached over HTTP.

Owns ``Store.open("http://HOST:PORT/NAME")``: the same records, record schema, manifest and
reconciliation as a store folder (``sbert_rag.indexing.store``), kept by a Chroma server through
``chromadb.HttpClient``, so several machines can write and search one store. On the server::

    collection NAME           the chunks' text-model vectors (cosine), documents and metadata;
                              its collection metadata holds the manifest (``sbert_rag_manifest``,
                              JSON) and the records' generation (``sbert_rag_generation``)
    collection NAME-images    CLIP vectors of images, with a generation of their own

Search indexes (exact dense, BM25, the records table) are not kept on the server: Chroma's own
hybrid search exists only in its hosted and distributed editions. Each searching machine keeps
them in a local cache folder (``SBERT_RAG_CACHE``, default ``~/.cache/sbert_rag``, under
``stores/``), stamped with the generation and record count it was built from. Every writer
draws a new random generation when a write session ends (a batch of files, ``add_texts``,
``delete``), and a reader reads the stamp before it reads the records, so any write that ends
after a cache was built changes the stamp and the next search rebuilds the cache from the
server's records. Writers take no lock: record ids are content hashes and every write is an
upsert or a delete of records a clean run would (not) have, so concurrent writers of the same
files converge, and a killed writer's re-run completes what it left. Deliberately does not walk
folders, chunk or embed (``sbert_rag.indexing.indexer``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sbert_rag._deps import require
from sbert_rag.errors import ConfigError, InvalidInputError, ModelLoadError, StoreUnavailableError
from sbert_rag.indexing.lock import access_lock
from sbert_rag.indexing.manifest import FORMAT_VERSION, Manifest, check_vectors
from sbert_rag.indexing.records import ids_fingerprint
from sbert_rag.indexing.sidecar import clear_sidecar
from sbert_rag.indexing.store import _SIDECARS, IndexStore, StoreIndexes

DEFAULT_COLLECTION = "sbert_rag"
DEFAULT_PORT = 8000  # chroma run's
MANIFEST_KEY = "sbert_rag_manifest"
GENERATION_KEY = "sbert_rag_generation"
TOKEN_ENV = "CHROMA_TOKEN"
"""Environment variable read for the server's token when none is passed."""
CACHE_ENV = "SBERT_RAG_CACHE"
CONNECT_TIMEOUT = 5.0  # seconds to connect and to answer the first call: an unreachable server fails fast
READ_TIMEOUT = 120.0  # seconds for one call's answer (a page of 5,000 records with vectors)
_NAME = re.compile(r"\A[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]\Z")


def is_server_location(location: object) -> bool:
    """Whether ``location`` names a store on a server (an ``http://`` or ``https://`` URL)."""
    return isinstance(location, str) and location.lower().startswith(("http://", "https://"))


def cache_root() -> Path:
    """Where searching machines keep server stores' indexes: ``$SBERT_RAG_CACHE`` or ``~/.cache/sbert_rag``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sbert_rag"


def parse_location(url: str, collection: str | None = None) -> tuple[str, str]:
    """Split ``http://HOST:PORT/NAME`` into the server's base URL and the collection name.

    Args:
        url: the server's URL; a path names the collection.
        collection: the collection name when the URL names none (None = ``sbert_rag``); must
            agree with the URL's when both are given.

    Raises:
        InvalidInputError: the URL has no host, another scheme or a bad port, or the name is
            not a valid Chroma collection name, or the two names differ.
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as err:
        raise InvalidInputError(f"store URL {url!r} has a bad port ({err}); use http://HOST:PORT", settings=("path",)) from err
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(f"store URL {url!r} names no host; use http://HOST:PORT", settings=("path",))
    named = parts.path.strip("/")
    if named and collection and named != collection:
        raise InvalidInputError(
            f"store URL {url!r} names collection {named!r} but collection {collection!r} was asked for; "
            f"name it once", settings=("path", "collection"),
        )
    name = named or collection or DEFAULT_COLLECTION
    if not _NAME.match(name) or not _NAME.match(f"{name}-images"):
        raise InvalidInputError(
            f"collection name {name!r} is not one Chroma accepts: 3-500 characters from letters, digits, "
            f"'.', '_' and '-', starting and ending with a letter or digit", settings=("collection",),
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    base = f"{parts.scheme.lower()}://{host}:{port or DEFAULT_PORT}"
    return base, name


class ServerStore(IndexStore):
    """A store kept by a Chroma server; searched from indexes in this machine's cache folder.

    Example:
        >>> store = ServerStore.open("http://127.0.0.1:8000/docs", must_exist=True)
        >>> store.counts()
        {'files': 7, 'chunks': 9, 'images': 0}
    """

    def __init__(self, base_url: str, collection: str, token: str | None, cache: Path) -> None:
        """Prepare the store ``collection`` on the server at ``base_url`` (prefer :meth:`open`)."""
        super().__init__(cache, None)
        self.base_url = base_url
        self.collection = collection
        self.token = token
        self.collection_names = {"text": collection, "image": f"{collection}-images"}
        self._dirty: set[str] = set()  # kinds written in the current session

    @classmethod
    def open(
        cls, url: str, *, must_exist: bool, collection: str | None = None, token: str | None = None,
        cache: str | Path | None = None,
    ) -> ServerStore:
        """Connect to the server and read the store's manifest.

        Args:
            url: ``http://HOST:PORT`` (or ``https://``), optionally ``/NAME`` for the collection.
            must_exist: refuse a collection that holds no store (search, info).
            collection: the collection when the URL names none (None = ``sbert_rag``).
            token: the server's token, sent as ``Authorization: Bearer``; None = the
                ``CHROMA_TOKEN`` environment variable, if set.
            cache: the folder for this store's search indexes on this machine; None = one under
                ``cache_root()`` named after the server and collection.

        Raises:
            StoreUnavailableError: the server does not answer within a few seconds, or refuses
                the token; the URL is named.
            ConfigError: ``must_exist`` and the collection holds no store.
            InvalidInputError: the URL or collection name is malformed.
        """
        base, name = parse_location(url, collection)
        if cache is None:
            digest = hashlib.sha256(f"{base}/{name}".encode()).hexdigest()[:12]
            cache = cache_root() / "stores" / f"{urlsplit(base).hostname}-{urlsplit(base).port}-{name}-{digest}"
        folder = Path(cache).expanduser().absolute()
        folder.mkdir(parents=True, exist_ok=True)
        store = cls(base, name, token if token is not None else os.environ.get(TOKEN_ENV) or None, folder)
        store.manifest = store.read_manifest()
        if store.manifest is None and must_exist:
            raise ConfigError(
                f"no sbert-rag store in collection {name!r} on the Chroma server at {base}; create one with "
                f"Store.open({store.location!r}, create=True).add_folder(DIR) (the index command), or name "
                f"the collection an index run wrote", settings=("path", "collection"),
            )
        return store

    @property
    def location(self) -> str:
        """The store's URL, collection included: ``Store.open(location)`` opens it again."""
        return f"{self.base_url}/{self.collection}"

    # ------------------------------------------------------------------ the server
    @contextlib.contextmanager
    def _outermost_session(self) -> Iterator[None]:
        """No access lock (the server serialises its clients); the client stays open."""
        try:
            with self._unavailable():
                yield
        finally:
            self._dirty.clear()
            self._collections = {}  # re-read next session: another client may have created one

    def _session_done(self) -> None:
        """A new generation for each kind written in the session: searchers rebuild their caches."""
        for kind in sorted(self._dirty):
            self._bump(kind)

    @contextlib.contextmanager
    def _unavailable(self) -> Iterator[None]:
        """Turn a dropped connection into an error naming the server."""
        httpx = require("httpx", "sbert-rag[index]")
        try:
            yield
        except httpx.TransportError as err:
            raise StoreUnavailableError(
                f"the Chroma server at {self.base_url} stopped answering ({type(err).__name__}: {err}); what "
                f"was written before is kept: run the same write again once the server is back",
                settings=("path",),
            ) from err

    def connect(self) -> Any:
        """A client of the server, after a heartbeat that answers within ``CONNECT_TIMEOUT``.

        Raises:
            StoreUnavailableError: no answer in time, or the token is refused.
        """
        httpx = require("httpx", "sbert-rag[index]")
        chromadb = require("chromadb", "sbert-rag[index]")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        try:
            answer = httpx.get(f"{self.base_url}/api/v2/heartbeat", headers=headers,
                               timeout=httpx.Timeout(CONNECT_TIMEOUT))
        except httpx.TransportError as err:
            raise StoreUnavailableError(
                f"cannot reach a Chroma server at {self.base_url} ({type(err).__name__}: {err or 'no answer'}); "
                f"start one (chroma run --path DB --host HOST --port PORT) or correct the address",
                settings=("path",),
            ) from err
        if answer.status_code in (401, 403):
            raise StoreUnavailableError(self._refused(answer.status_code), settings=("token",))
        if answer.status_code != 200:
            raise StoreUnavailableError(
                f"{self.base_url} answered HTTP {answer.status_code} to a Chroma heartbeat: it is not a Chroma "
                f"server (version 1.x); correct the address", settings=("path",),
            )
        parts = urlsplit(self.base_url)
        settings = chromadb.config.Settings(anonymized_telemetry=False)
        try:
            with self._unavailable():
                client = chromadb.HttpClient(host=str(parts.hostname).strip("[]"), port=int(parts.port or DEFAULT_PORT),
                                             ssl=parts.scheme == "https", headers=headers, settings=settings)
        except Exception as err:
            if "401" in str(err) or "403" in str(err) or "uthori" in str(err) or "uthenti" in str(err):
                raise StoreUnavailableError(self._refused(None), settings=("token",)) from err
            raise
        session = getattr(getattr(client, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):  # Chroma's client waits forever by default
            session.timeout = timeout
        return client

    def _refused(self, status: int | None) -> str:
        code = f" (HTTP {status})" if status else ""
        given = "the token given" if self.token else "no token"
        return (f"the Chroma server at {self.base_url} refused {given}{code}; pass the server's token "
                f"(token=..., or the {TOKEN_ENV} environment variable)")

    def _collection(self, kind: str, *, create: bool = False) -> Any:
        errors = require("chromadb.errors", "sbert-rag[index]")
        try:
            return super()._collection(kind, create=create)
        except errors.InvalidArgumentError as err:
            raise ConfigError(f"the Chroma server at {self.base_url} refused collection "
                              f"{self.collection_names[kind]!r}: {err}", settings=("collection",)) from err

    # ------------------------------------------------------------------ manifest and generations
    def read_manifest(self) -> Manifest | None:
        """The manifest kept in the text collection's metadata; None when there is none yet.

        Raises:
            ModelLoadError: the metadata holds no readable manifest of this format.
        """
        with self.session():
            col = self._collection("text")
            raw = (col.metadata or {}).get(MANIFEST_KEY) if col is not None else None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            if data.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"format {data.get('format_version')!r}, not {FORMAT_VERSION}")
            return Manifest(**data)
        except (TypeError, ValueError, AttributeError) as err:
            raise ModelLoadError(
                f"collection {self.collection!r} on {self.base_url} holds no readable sbert-rag manifest "
                f"({err}); write into another collection"
            ) from err

    def write_manifest(self, manifest: Manifest) -> None:
        """Keep ``manifest`` in the text collection's metadata (the collection is created if missing).

        Raises:
            ConfigError: another client created the store meanwhile with another model.
        """
        stored = self.read_manifest()
        if stored is not None:
            check_vectors(stored, manifest.model, self.location)
        self.manifest = manifest  # the new collection records the model's embedding function
        with self.session():
            self._update_metadata("text", {MANIFEST_KEY: json.dumps(asdict(manifest))}, create=True)

    def check_new(self) -> None:
        """Refuse a collection that holds records not written by sbert-rag.

        Raises:
            ConfigError: the collection exists, has no manifest and holds records.
        """
        with self.session():
            col = self._collection("text")
            if col is not None and col.count():
                raise ConfigError(
                    f"collection {self.collection!r} on {self.base_url} holds {col.count()} records that "
                    f"sbert-rag did not write (it has no manifest); name another collection",
                    settings=("collection",),
                )

    def writer(self) -> contextlib.AbstractContextManager[Any]:
        """No lock: writers of a server store may run at once (see the module docstring)."""
        return contextlib.nullcontext()

    def _mark_written(self, kind: str) -> None:
        self._dirty.add(kind)

    def _bump(self, kind: str) -> None:
        """Draw a new generation for ``kind``: every reader's cache of it is now stale."""
        self._update_metadata(kind, {GENERATION_KEY: uuid.uuid4().hex}, create=False)

    def _update_metadata(self, kind: str, values: dict[str, Any], *, create: bool) -> None:
        col = self._collection(kind, create=create)
        if col is None:
            return
        # Chroma replaces a collection's metadata whole: read it fresh, so another writer's
        # generation or manifest is not undone by an older copy
        fresh = self._chroma().get_collection(col.name, embedding_function=None)
        col.modify(metadata={**(fresh.metadata or {}), **values})

    def _stamp(self, kind: str) -> list[Any]:
        """What changes with every write of ``kind``: its generation and its record count."""
        errors = require("chromadb.errors", "sbert-rag[index]")
        try:
            col = self._chroma().get_collection(self.collection_names[kind], embedding_function=None)
        except errors.NotFoundError:
            return ["", 0]
        return [str((col.metadata or {}).get(GENERATION_KEY, "")), int(col.count())]

    # ------------------------------------------------------------------ search indexes (the cache)
    def _rest_fingerprint(self, kind: str) -> str | None:
        cached = self._state().get(kind)
        if not isinstance(cached, dict) or not isinstance(cached.get("fingerprint"), str):
            return None
        with self.session():
            return cached["fingerprint"] if cached.get("stamp") == self._stamp(kind) else None

    def indexes(
        self, kind: str, *, save: bool, bm25: bool = True, dense: bool = True, records: bool = False
    ) -> StoreIndexes:
        """The search indexes of ``kind``, from this machine's cache when it holds the server's
        current generation, else rebuilt from the server's records into the cache.

        ``save`` (a writer at the end of its write) does nothing here: its session end draws a
        new generation, and each reader rebuilds its own cache on its next search.
        """
        if save:
            return StoreIndexes(None)
        found = self._at_rest(kind, bm25=bm25, dense=dense, records=records)
        if found is not None:
            return found
        with access_lock(self.path):  # searches on this machine build the cache once, in turn
            found = self._at_rest(kind, bm25=bm25, dense=dense, records=records)
            if found is not None:
                return found
            with self.session():
                stamp = self._stamp(kind)  # before the records: a write ending later changes it
                ids = self.read(kind).ids
                for folder in _SIDECARS[kind]:
                    clear_sidecar(self.path / folder)  # an id may hold new content: rebuild all
                found = self._build(kind, ids, save=True, bm25=bm25, dense=dense, records=records)
            self._set_state(kind, {"stamp": stamp, "fingerprint": ids_fingerprint(ids)})
            return found
