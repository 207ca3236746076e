"""The HTTP routes: FastAPI app over the embedder, the batcher and an optional ``sbert_rag.Store``.

Owns what each route answers and with which status: ``POST /v1/embeddings``, ``POST /v1/search``,
``GET /v1/models``, ``GET /health``, ``GET /metrics``; the request limits (body size, inputs per
request, queue) and the bearer-key check; and the mapping of errors to statuses (a
:class:`RequestError` carries its own; sbert_rag's errors map by type). Bodies are read and
parsed here by hand (``protocol``), so every refusal names the field in OpenAI's error shape.
The search is ``Store.search``; the encoding is the embedder's.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sbert_rag._deps import require
from sbert_rag.errors import (
    ConfigError,
    InvalidInputError,
    SbertRagError,
    StoreLockedError,
    StoreUnavailableError,
)
from sbert_rag.serve.batcher import Batcher, QueueFullError
from sbert_rag.serve.embedder import Embedder
from sbert_rag.serve.metrics import Metrics
from sbert_rag.serve.protocol import RequestError, embeddings_json, error_body, parse_embeddings, parse_json, parse_search

logger = logging.getLogger(__name__)

# Below this many inputs, counting tokens on the event loop costs less than handing it to a thread.
_INLINE_ADMIT_INPUTS = 8


@dataclass(frozen=True)
class Limits:
    """What one server accepts (each refusal names the limit it hit).

    Attributes:
        max_batch_tokens: token budget of one forward batch (requests merged up to it).
        max_queue: requests that may wait for the model; one more gets 429.
        max_request_inputs: inputs in one embeddings request; more gets 413.
        max_body_bytes: size of one request body; more gets 413.
        batch_wait_s: how long a request may wait for others to share its batch.
        api_key: the bearer key every route but ``/health`` needs; None = no key.
    """

    max_batch_tokens: int = 16384
    max_queue: int = 256
    max_request_inputs: int = 2048
    max_body_bytes: int = 32 * 1024 * 1024
    batch_wait_s: float = 0.002
    api_key: str | None = None


def create_app(embedder: Embedder, store: Any = None, limits: Limits | None = None) -> Any:
    """The FastAPI application; the batcher starts (and the model warms up) in its lifespan.

    Args:
        embedder: the served models.
        store: a ``sbert_rag.Store`` for ``/v1/search``, or None (the route answers 404).
        limits: the server's limits; None = the defaults of :class:`Limits`.
    """
    fastapi = require("fastapi", extra="sbert-rag[serve]")
    responses = require("fastapi.responses", extra="sbert-rag[serve]")
    limits = limits or Limits()
    metrics = Metrics()
    batcher = Batcher(embedder.run, max_batch_tokens=limits.max_batch_tokens, max_queue=limits.max_queue,
                      wait_s=limits.batch_wait_s, metrics=metrics)
    state = {"ready": False, "in_flight": 0}

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await batcher.start()
        # one short call and one of several hundred tokens: the large one loads the torch module where
        # the encoder opened without it, so no request waits seconds for that
        await batcher.call(embedder.run, ("text", "passage"), [["warm up"], ["warm up the model"] * 64])
        state["ready"] = True
        try:
            yield
        finally:
            state["ready"] = False
            await batcher.close()  # uvicorn has let in-flight requests finish; the queue is empty or drains here

    app = fastapi.FastAPI(title="sbert-rag serve", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.metrics = metrics
    app.state.batcher = batcher

    def answer(status: int, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None) -> Any:
        content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False)
        return responses.Response(content, status_code=status, media_type="application/json", headers=headers)

    def guarded(route: str, handler: Callable[[Any], Awaitable[Any]], auth: bool = True) -> Callable[[Any], Awaitable[Any]]:
        async def endpoint(request: Any) -> Any:
            start = time.perf_counter()
            try:
                if auth:
                    _authorize(request, limits.api_key)
                response = await handler(request)
            except RequestError as err:
                response = answer(err.status, error_body(err.status, err.message, err.param, err.code), err.headers)
            except SbertRagError as err:
                status = _status_of(err)
                extra = {"Retry-After": "1"} if status == 503 else None
                response = answer(status, error_body(status, str(err), None, type(err).__name__), extra)
            metrics.request(route, response.status_code, time.perf_counter() - start)
            return response
        endpoint.__annotations__["request"] = fastapi.Request  # FastAPI passes the raw request by this type
        return endpoint

    async def embeddings(request: Any) -> Any:
        if not state["ready"]:
            raise RequestError(503, "the model is still loading; retry shortly", headers={"Retry-After": "1"})
        body = parse_json(await _read_body(request, limits.max_body_bytes))
        model = body.get("model")
        if model is not None and not isinstance(model, str):
            raise RequestError(422, f"model must be a string, got {type(model).__name__}", param="model")
        model_id = embedder.resolve(model)
        raw = body.get("input")
        if isinstance(raw, list) and len(raw) > limits.max_request_inputs:
            raise RequestError(413, f"input has {len(raw)} items, but this server takes at most "
                               f"{limits.max_request_inputs} per request (max_request_inputs); send them in several "
                               f"requests", param="input", code="too_many_inputs")
        req = parse_embeddings(body, images_allowed=model_id == embedder.clip_id)
        if len(req.inputs) <= _INLINE_ADMIT_INPUTS and not req.has_images:
            admitted = embedder.admit(req, model_id)
        else:
            admitted = await asyncio.to_thread(embedder.admit, req, model_id)
        try:
            future = batcher.submit(admitted.group, admitted.payload, admitted.tokens)
        except QueueFullError as err:
            metrics.queue_full()
            raise RequestError(429, f"the server is busy: {err} (max_queue); retry after a second",
                               code="queue_full", headers={"Retry-After": "1"}) from err
        state["in_flight"] += 1
        try:
            rows = await future
        finally:
            state["in_flight"] -= 1
        kind = "image" if req.has_images else "text"
        metrics.embedded(kind, len(req.inputs), rows.tokens, len(rows.truncated))
        ext = embedder.extension(model_id, req.role, rows)
        out = embeddings_json(rows.vectors, req.encoding_format, model_id, rows.tokens, ext.to_dict())
        headers = {"X-Sbert-Rag-Truncated": ",".join(map(str, rows.truncated))} if rows.truncated else None
        return answer(200, out, headers)

    async def search(request: Any) -> Any:
        if store is None:
            raise RequestError(404, "this server has no store to search; start it with a store to use /v1/search",
                               code="no_store")
        req = parse_search(parse_json(await _read_body(request, limits.max_body_bytes)))
        hits = await asyncio.to_thread(store.search, req.query, req.k, req.mode, req.where)
        return answer(200, {"object": "list", "query": req.query, "k": req.k, "mode": req.mode,
                            "data": [hit.to_dict() for hit in hits]})

    async def models(request: Any) -> Any:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "sbert-rag",
                 "sbert_rag": {"dim": embedder.dim(m), "max_tokens": embedder.max_tokens(m),
                               "inputs": ["text", "image"] if m == embedder.clip_id else ["text"]}}
                for m in embedder.model_ids()]
        return answer(200, {"object": "list", "data": data})

    async def health(request: Any) -> Any:
        if state["ready"]:
            return answer(200, {"status": "ready", "models": embedder.model_ids()})
        return answer(503, {"status": "loading"}, {"Retry-After": "1"})

    async def metrics_text(request: Any) -> Any:
        text = metrics.render(batcher.depth, state["in_flight"])
        return responses.PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    app.add_api_route("/v1/embeddings", guarded("/v1/embeddings", embeddings), methods=["POST"])
    app.add_api_route("/embeddings", guarded("/v1/embeddings", embeddings), methods=["POST"], include_in_schema=False)
    app.add_api_route("/v1/search", guarded("/v1/search", search), methods=["POST"])
    app.add_api_route("/v1/models", guarded("/v1/models", models), methods=["GET"])
    app.add_api_route("/health", guarded("/health", health, auth=False), methods=["GET"])
    app.add_api_route("/metrics", guarded("/metrics", metrics_text), methods=["GET"])
    return app


def _authorize(request: Any, key: str | None) -> None:
    if key is None:
        return
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    # compare_digest takes as long for a wrong key of any length: no timing hint at the key
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise RequestError(401, "missing or wrong API key; send the header 'Authorization: Bearer <key>'",
                           code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


async def _read_body(request: Any, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"the request body has {int(declared)} bytes, but this server takes at most {limit} "
                           f"(max_body_bytes); send fewer or smaller inputs per request", code="body_too_large")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"the request body passes {limit} bytes, the most this server takes "
                               f"(max_body_bytes); send fewer or smaller inputs per request", code="body_too_large")
        parts.append(chunk)
    return b"".join(parts)


def _status_of(err: SbertRagError) -> int:
    if isinstance(err, (StoreLockedError, StoreUnavailableError)):
        return 503
    if isinstance(err, (InvalidInputError, ConfigError)):
        return 400
    return 500
