"""The served models: which ``model`` names what, admission of a request, and one merged encode per batch.

Owns the step between a checked request and the encoders: the model ids ``/v1/models`` lists,
token counts for ``usage`` and for the batcher's budget, the overflow policy ``error`` applied
before a request queues (so one over-long input never fails the requests it would share a batch
with), image bytes decoded into pictures, and :meth:`Embedder.run`, which embeds the texts of many
requests in one ``encode_with_report`` call and hands each request its own rows and its own
truncated or windowed indices. The encoding itself is the encoders'; nothing here cuts a vector.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sbert_rag.encoding.identity import PACKAGED_MODEL
from sbert_rag.errors import InvalidInputError
from sbert_rag.serve.protocol import EmbeddingsRequest, Extension, ImageInput, RequestError
from sbert_rag.types import FloatMatrix


@dataclass
class Admitted:
    """A request ready to queue: its batch group, what the worker embeds, and its token cost."""

    group: Hashable
    payload: list[Any]
    tokens: int
    role: str
    model_id: str


@dataclass
class Rows:
    """One request's share of a batch: its vectors and what happened to its long inputs."""

    vectors: FloatMatrix
    tokens: int
    truncated: list[int] = field(default_factory=list)
    windowed: list[int] = field(default_factory=list)


def served_name(model: str) -> str:
    """The id a model is served under: ``all-MiniLM-L6-v2`` for the packaged model, else the folder's name."""
    if model == PACKAGED_MODEL:
        return PACKAGED_MODEL.split(":", 1)[1]
    return Path(model).name or model


class Embedder:
    """The text encoder (and an optional CLIP encoder) behind ``/v1/embeddings``.

    Args:
        text: a ``TextEncoder`` or ``DualEncoder``.
        clip: a ``CLIPEncoder`` for images (and texts in its space), or None.
        text_id: the text model's served id; None = :func:`served_name` of its model.
        clip_id: the CLIP model's served id; None = ``clip``.
    """

    def __init__(self, text: Any, clip: Any = None, *, text_id: str | None = None, clip_id: str | None = None) -> None:
        self.text = text
        self.clip = clip
        self.text_config = text.config
        self.text_id = text_id or served_name(self.text_config.model)
        self.clip_id = (clip_id or "clip") if clip is not None else None
        self.text_policy = str(self.text_config.overflow)
        self.clip_policy = clip.overflow.value if clip is not None else None

    def model_ids(self) -> list[str]:
        """Ids of the served models, the text model first."""
        return [self.text_id] + ([self.clip_id] if self.clip_id else [])

    def dim(self, model_id: str) -> int:
        return int(self.clip.dim if model_id == self.clip_id else self.text.dim)

    def max_tokens(self, model_id: str) -> int:
        return int(self.clip.max_tokens if model_id == self.clip_id else self.text.max_tokens)

    def resolve(self, model: str | None) -> str:
        """The served id a request's ``model`` names (None = the text model).

        Raises:
            RequestError: 404 for a model not served here (the served ids are listed).
        """
        if model is None or model in (self.text_id, self.text_config.model):
            return self.text_id
        if self.clip_id is not None and model == self.clip_id:
            return self.clip_id
        served = " and ".join(repr(m) for m in self.model_ids())
        raise RequestError(404, f"model {model!r} is not served here; this server serves {served} (GET /v1/models)",
                           param="model", code="model_not_found")

    def admit(self, request: EmbeddingsRequest, model_id: str) -> Admitted:
        """Count tokens, apply the overflow policy ``error``, decode images: runs off the event loop.

        Raises:
            RequestError: 400 when ``dimensions`` asks for other than the model's dimension, an input
                is longer than the model reads under policy ``error`` (its index, length and the
                limit), or an image cannot be decoded.
        """
        dim = self.dim(model_id)
        if request.dimensions is not None and request.dimensions != dim:
            raise RequestError(
                400, f"dimensions={request.dimensions} asks for shortened vectors, but model {model_id!r} is not "
                f"known to keep its meaning in fewer than its {dim} dimensions (it was not trained for shortened "
                f"embeddings), and this server never cuts vectors: leave out 'dimensions' to get all {dim}",
                param="dimensions", code="dimensions_not_supported")
        if model_id == self.clip_id:
            return self._admit_clip(request, model_id)
        texts = [str(x) for x in request.inputs]
        counts = self.text.count_tokens(texts, request.role)
        if self.text_policy == "error":
            self._refuse_long(counts, self.text.max_tokens)
        return Admitted(("text", request.role), texts, sum(counts), request.role, model_id)

    def _admit_clip(self, request: EmbeddingsRequest, model_id: str) -> Admitted:
        from sbert_rag.image import load_image

        payload: list[Any] = []
        tokens = 0
        texts = [(i, x) for i, x in enumerate(request.inputs) if isinstance(x, str)]
        counts = dict(zip((i for i, _ in texts), self.clip.count_tokens([t for _, t in texts]) if texts else []))
        if self.clip_policy == "error":
            self._refuse_long([counts.get(i, 0) for i in range(len(request.inputs))], self.clip.max_tokens)
        for i, item in enumerate(request.inputs):
            if isinstance(item, ImageInput):
                try:
                    payload.append(load_image(item.data, i))
                except InvalidInputError as err:
                    raise RequestError(400, f"input[{i}]: {err}".replace(f"image {i} ", "", 1), param=f"input[{i}]",
                                       code="invalid_image") from err
                tokens += 1  # an image costs about what a short caption does in a batch
            else:
                payload.append(item)
                tokens += counts[i]
        return Admitted(("clip",), payload, tokens, request.role, model_id)

    @staticmethod
    def _refuse_long(counts: list[int], limit: int) -> None:
        for i, n in enumerate(counts):
            if n > limit:
                raise RequestError(
                    400, f"input[{i}] has {n} tokens (prompt and special tokens included) but the model reads at "
                    f"most {limit}, and this server refuses longer inputs (overflow policy 'error'): split it into "
                    f"shorter texts and send those", param=f"input[{i}]", code="input_too_long")

    # ------------------------------------------------------------------ the worker thread
    def run(self, group: Hashable, payloads: list[list[Any]]) -> list[Rows]:
        """Embed the payloads of one batch in one call and split the result per request.

        Called by the batcher in its worker thread with payloads of one group (``("text", role)``
        or ``("clip",)``).
        """
        if group == ("clip",):
            return [self._run_clip(p) for p in payloads]
        role = group[1]  # type: ignore[index]  # text groups are ("text", role)
        texts = [t for p in payloads for t in p]
        result = self.text.encode_with_report(texts, role=role)
        return _split(result.embeddings, result.report, [len(p) for p in payloads])

    def _run_clip(self, payload: list[Any]) -> Rows:
        dim = int(self.clip.dim)
        out = np.zeros((len(payload), dim), dtype=np.float32)
        text_at = [i for i, x in enumerate(payload) if isinstance(x, str)]
        image_at = [i for i, x in enumerate(payload) if not isinstance(x, str)]
        rows = Rows(out, 0)
        if text_at:
            result = self.clip.encode_texts_with_report([payload[i] for i in text_at])
            out[text_at] = result.embeddings
            rows.tokens = int(sum(result.report.token_counts))
            rows.truncated = [text_at[j] for j in result.report.truncated]
            rows.windowed = sorted(text_at[j] for j in result.report.windowed)
        if image_at:
            out[image_at] = self.clip.encode_images([payload[i] for i in image_at])
        return rows

    def extension(self, model_id: str, role: str, rows: Rows) -> Extension:
        return Extension(input_type=role, max_tokens=self.max_tokens(model_id), truncated=rows.truncated,
                         windowed=rows.windowed)


def _split(vectors: FloatMatrix, report: Any, sizes: list[int]) -> list[Rows]:
    out: list[Rows] = []
    start = 0
    truncated = set(report.truncated)
    for n in sizes:
        stop = start + n
        out.append(Rows(
            vectors=vectors[start:stop], tokens=int(sum(report.token_counts[start:stop])),
            truncated=[i - start for i in range(start, stop) if i in truncated],
            windowed=[i - start for i in range(start, stop) if i in report.windowed],
        ))
        start = stop
    return out
