"""The server's wire format: request bodies parsed and checked, response bodies built.

Owns OpenAI's embeddings schema as this server speaks it (``input``, ``model``, ``encoding_format``,
``dimensions``, ``user``, and the extension field ``input_type``), the search request, and the error
body OpenAI's clients read (``{"error": {"message", "type", "param", "code"}}``). Every refusal is a
:class:`RequestError` with its HTTP status and the field it concerns. Knows no web framework and no
model: the app hands it decoded JSON, the embedder hands it vectors.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sbert_rag.serve.floats import rows_json
from sbert_rag.types import FloatMatrix

ROLES = {"query": "query", "passage": "passage", "search_query": "query", "search_document": "passage",
         "document": "passage"}
"""``input_type`` values -> the encoder's role (Cohere's and Voyage's words are accepted too)."""

ENCODING_FORMATS = ("float", "base64")
EMBEDDINGS_FIELDS = ("input", "model", "encoding_format", "dimensions", "user", "input_type")
SEARCH_FIELDS = ("query", "k", "mode", "where", "model", "user")
DATA_URI_PREFIX = "data:image/"


class RequestError(Exception):
    """A request the server refuses; the app answers it with ``status`` and :func:`error_body`.

    Attributes:
        status: the HTTP status (400, 401, 404, 413, 422, 429, 503).
        message: what was wrong, with the value or the limit, and what to send instead.
        param: the request field concerned (``input``, ``input[3]``, ``k``), or None.
        code: a short machine-readable reason (``input_too_long``, ``queue_full``), or None.
        headers: extra response headers (``Retry-After``).
    """

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = dict(headers or {})


_ERROR_TYPES = {401: "authentication_error", 404: "not_found_error", 413: "request_too_large",
                429: "rate_limit_error", 503: "service_unavailable"}


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object, which the openai client turns into its ``APIStatusError`` message."""
    kind = _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass(frozen=True)
class ImageInput:
    """One image of an embeddings request: its encoded bytes (PNG, JPEG, ...), never a path or a URL."""

    data: bytes


@dataclass(frozen=True)
class EmbeddingsRequest:
    """A checked ``POST /v1/embeddings`` body.

    Attributes:
        inputs: the texts and images, in request order (strings or :class:`ImageInput`).
        model: the ``model`` field, or None when absent (the text model is meant).
        encoding_format: ``float`` or ``base64`` (little-endian float32 bytes).
        role: ``query`` or ``passage`` (from ``input_type``; passage when absent).
        dimensions: the ``dimensions`` field, or None.
    """

    inputs: list[str | ImageInput]
    model: str | None
    encoding_format: str = "float"
    role: str = "passage"
    dimensions: int | None = None

    @property
    def has_images(self) -> bool:
        return any(isinstance(item, ImageInput) for item in self.inputs)


@dataclass(frozen=True)
class SearchRequest:
    """A checked ``POST /v1/search`` body (the values go to ``Store.search``, which checks them further)."""

    query: str
    k: int = 10
    mode: str = "hybrid"
    where: dict[str, Any] | None = None


def parse_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object.

    Raises:
        RequestError: 400 when it is not JSON (the position is given) or not an object.
    """
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RequestError(400, f"the request body is not valid JSON ({err}); send a JSON object",
                           code="invalid_json") from err
    if not isinstance(value, dict):
        raise RequestError(400, f"the request body must be a JSON object, got {_json_type(value)}", code="invalid_json")
    return value


def parse_embeddings(body: dict[str, Any], images_allowed: bool) -> EmbeddingsRequest:
    """Check an embeddings body: known fields, their types, and every input item.

    Args:
        body: the decoded JSON object.
        images_allowed: whether image items may appear (the request names the CLIP model).

    Raises:
        RequestError: 400 for an unknown field, a missing or empty ``input``, token-id arrays, a
            URL or malformed image, an unknown ``encoding_format`` or ``input_type``; 422 for a
            field of the wrong type. The message names the field (``input[3]``).
    """
    _check_fields(body, EMBEDDINGS_FIELDS)
    if "input" not in body:
        raise RequestError(400, "the field 'input' is missing; send a string or a list of strings", param="input")
    model = _optional_str(body, "model")
    _optional_str(body, "user")
    fmt = body.get("encoding_format") or "float"
    if fmt not in ENCODING_FORMATS:
        raise RequestError(400, f"encoding_format must be 'float' or 'base64', got {fmt!r}", param="encoding_format")
    kind = body.get("input_type") or "passage"
    if not isinstance(kind, str) or kind not in ROLES:
        raise RequestError(400, f"input_type must be 'query' or 'passage', got {kind!r}", param="input_type")
    dims = body.get("dimensions")
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or dims < 1):
        raise RequestError(422, f"dimensions must be a positive integer, got {dims!r}", param="dimensions")
    raw = body["input"]
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise RequestError(422, f"input must be a string or a list of strings, got {_json_type(raw)}", param="input")
    if not items:
        raise RequestError(400, "input is an empty list; send at least one string", param="input")
    if all(isinstance(x, int) and not isinstance(x, bool) for x in items) or any(isinstance(x, list) for x in items):
        raise RequestError(
            400, "input holds token ids; this server takes texts and tokenises them with the model's own "
            "tokenizer (ids from another tokenizer would mean other words): send the strings",
            param="input", code="token_ids_not_supported")
    inputs = [_input_item(x, i, images_allowed) for i, x in enumerate(items)]
    return EmbeddingsRequest(inputs=inputs, model=model, encoding_format=fmt, role=ROLES[kind], dimensions=dims)


def parse_search(body: dict[str, Any]) -> SearchRequest:
    """Check a search body's fields and types (``Store.search`` checks the values: blank query, k < 1, mode).

    Raises:
        RequestError: 400 for an unknown or missing field, 422 for a field of the wrong type.
    """
    _check_fields(body, SEARCH_FIELDS)
    _optional_str(body, "model")
    _optional_str(body, "user")
    if "query" not in body:
        raise RequestError(400, "the field 'query' is missing; send the text to search for", param="query")
    query = body["query"]
    if not isinstance(query, str):
        raise RequestError(422, f"query must be a string, got {_json_type(query)}", param="query")
    k = body.get("k", 10)
    if isinstance(k, bool) or not isinstance(k, int):
        raise RequestError(422, f"k must be an integer, got {_json_type(k)}", param="k")
    mode = body.get("mode", "hybrid")
    if not isinstance(mode, str):
        raise RequestError(422, f"mode must be a string ('hybrid', 'dense' or 'bm25'), got {_json_type(mode)}",
                           param="mode")
    where = body.get("where")
    if where is not None and not isinstance(where, dict):
        raise RequestError(422, f"where must be a JSON object (a metadata filter), got {_json_type(where)}",
                           param="where")
    return SearchRequest(query=query, k=k, mode=mode, where=where or None)


def embeddings_body(vectors: FloatMatrix, encoding_format: str, model: str, prompt_tokens: int,
                    extension: dict[str, Any]) -> dict[str, Any]:
    """The embeddings response: one ``data`` item per row, ``usage``, and our ``sbert_rag`` facts.

    Args:
        vectors: float32 (n, dim), one row per input in request order.
        encoding_format: ``float`` (lists of numbers) or ``base64`` (little-endian float32 bytes).
        model: the served model's id.
        prompt_tokens: tokens of all text inputs, prompts and special tokens included.
        extension: the ``sbert_rag`` field (truncated and windowed indices, the token limit, the role).
    """
    if encoding_format == "base64":
        rows = vectors.astype("<f4", copy=False)
        embeddings: list[Any] = [base64.b64encode(row.tobytes()).decode("ascii") for row in rows]
    else:
        embeddings = vectors.tolist()
    data = [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(embeddings)]
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}, "sbert_rag": extension}


def embeddings_json(vectors: FloatMatrix, encoding_format: str, model: str, prompt_tokens: int,
                    extension: dict[str, Any]) -> bytes:
    """:func:`embeddings_body` as JSON bytes, laid out as ``json.dumps`` lays it out, without its per-float cost.

    Float lists come from :func:`sbert_rag.serve.floats.rows_json` (9 significant digits, the same
    float32 values back; a third of ``json.dumps``' time for 32 x 384); base64 rows are written as
    they are (no escaping to do).

    Args:
        vectors: float32 (n, dim), one row per input in request order.
        encoding_format: ``float`` or ``base64``.
        model: the served model's id.
        prompt_tokens: tokens of all text inputs.
        extension: the ``sbert_rag`` field.
    """
    if encoding_format == "base64":
        rows = ['"' + base64.b64encode(row.tobytes()).decode("ascii") + '"' for row in vectors.astype("<f4", copy=False)]
    else:
        rows = rows_json(vectors)
    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    data = ", ".join([f'{{"object": "embedding", "index": {i}, "embedding": {row}}}' for i, row in enumerate(rows)])
    return (f'{{"object": "list", "data": [{data}], "model": {json.dumps(model, ensure_ascii=False)}, '
            f'"usage": {json.dumps(usage)}, "sbert_rag": {json.dumps(extension, ensure_ascii=False)}}}').encode()


def decode_base64_vectors(body: dict[str, Any]) -> FloatMatrix:
    """The rows of a base64 embeddings response as float32 (n, dim) (for clients and tests)."""
    rows = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in body["data"]]
    return np.stack(rows).astype(np.float32)


def _input_item(item: object, index: int, images_allowed: bool) -> str | ImageInput:
    where = f"input[{index}]"
    if isinstance(item, str):
        if images_allowed and item.startswith(DATA_URI_PREFIX):
            return ImageInput(_data_uri_bytes(item, where))
        if not item.strip():
            raise RequestError(400, f"{where} is empty or whitespace-only; it has nothing to embed, leave it out",
                               param=where)
        return item
    if isinstance(item, dict):
        if item.get("type") != "image":
            raise RequestError(422, f"{where} is an object with type {item.get('type')!r}; the only object "
                               "accepted is an image: {\"type\": \"image\", \"data\": \"<base64>\"}", param=where)
        if not images_allowed:
            raise RequestError(400, f"{where} is an image, but the model asked for embeds text only; name the "
                               "CLIP model served here (GET /v1/models) in 'model'", param=where)
        data = item.get("data")
        if "url" in item or "image_url" in item or (isinstance(data, str) and "://" in data[:16]):
            raise RequestError(400, f"{where} gives an image by URL; this server fetches nothing: send the image "
                               "bytes as base64 in 'data' or as a data URI", param=where, code="url_not_supported")
        extra = sorted(set(item) - {"type", "data"})
        if extra:
            raise RequestError(400, f"{where} has unknown keys {extra}; an image item is "
                               "{\"type\": \"image\", \"data\": \"<base64>\"}", param=where)
        if not isinstance(data, str) or not data:
            raise RequestError(422, f"{where}.data must be a non-empty base64 string or data URI, "
                               f"got {_json_type(data)}", param=f"{where}.data")
        return ImageInput(_data_uri_bytes(data, where) if data.startswith("data:") else _b64(data, where))
    raise RequestError(422, f"{where} is {_json_type(item)}; each input must be a string"
                       + (" or an image object" if images_allowed else ""), param=where)


def _data_uri_bytes(uri: str, where: str) -> bytes:
    head, sep, payload = uri.partition(",")
    if not sep or not head.endswith(";base64"):
        raise RequestError(400, f"{where} is a data URI without ';base64,'; send data:image/png;base64,<data>",
                           param=where)
    return _b64(payload, where)


def _b64(text: str, where: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise RequestError(400, f"{where} is not valid base64 ({err}); encode the image file's bytes with "
                           "standard base64", param=where) from err
    if not data:
        raise RequestError(400, f"{where} decodes to 0 bytes; it holds no image", param=where)
    return data


def _check_fields(body: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise RequestError(400, f"unknown field(s) {', '.join(map(repr, unknown))}; the fields are "
                           f"{', '.join(known)}", param=unknown[0])


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise RequestError(422, f"{name} must be a string, got {_json_type(value)}", param=name)
    return value


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


@dataclass
class Extension:
    """The ``sbert_rag`` field of an embeddings response: what the server did with long inputs."""

    input_type: str
    max_tokens: int
    truncated: list[int] = field(default_factory=list)
    windowed: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"input_type": self.input_type, "max_tokens": self.max_tokens, "truncated": self.truncated,
                "windowed": self.windowed}
