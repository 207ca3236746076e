"""``sbert-rag serve``: an OpenAI-compatible embedding and search server with dynamic batching.

The HTTP front end over the encoders and ``sbert_rag.Store`` (docs/serve.md). Its parts, each a module:
``protocol`` (request bodies in, response bodies out, no web framework), ``embedder`` (the served
models: admission, token counts, one merged encode call per batch), ``batcher`` (the bounded queue
and the worker thread that merges concurrent requests), ``metrics`` (Prometheus text), ``app``
(FastAPI routes, limits, authentication, error statuses) and ``runner`` (uvicorn, signals).
Holds no search, fusion or encoding logic of its own. Importing this package imports nothing
(FastAPI and uvicorn come with the ``serve`` extra and load with ``app`` and ``runner``).
"""

from __future__ import annotations
