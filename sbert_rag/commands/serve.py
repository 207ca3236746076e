"""``sbert-rag serve``: the OpenAI-compatible embedding (and search) server, from the command line.

Owns the command's arguments and how they become the server's parts: the text encoder (the
shared model options; with ``--store`` and no ``--model``, the store's recorded model, so served
vectors match the stored ones), an optional CLIP encoder, an optional ``sbert_rag.Store`` for
``/v1/search``, the limits, and the API key read from the environment variable ``--api-key-env``
names. Models load before the port opens, so a bad model is a one-line error, not a server that
never gets ready. The server itself is ``sbert_rag.serve`` (docs/serve.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from sbert_rag.commands.common import add_model_arguments, build_encoder, location_options
from sbert_rag.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag serve``."""
    from sbert_rag.serve.app import Limits

    defaults = Limits()
    add_model_arguments(parser)
    parser.add_argument("--clip", default=None, metavar="FOLDER",
                        help="CLIP model folder: also embed images (and texts in CLIP's space) as model 'clip'")
    parser.add_argument("--store", default=None, metavar="PATH_OR_URL",
                        help="store folder or Chroma server URL to answer POST /v1/search (default: no search)")
    parser.add_argument("--collection", default=None, metavar="NAME",
                        help="with a server URL: the store's collection on the server (default: sbert_rag)")
    parser.add_argument("--token-env", default="CHROMA_TOKEN", metavar="VAR",
                        help="with a server URL: the environment variable holding the Chroma server's token")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to bind (default: {DEFAULT_HOST}, this machine only; 0.0.0.0 = every interface)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default: {DEFAULT_PORT})")
    parser.add_argument("--api-key-env", default=None, metavar="VAR",
                        help="environment variable holding the API key every route but /health then needs "
                             "(Authorization: Bearer KEY); default: no key")
    parser.add_argument("--served-model-name", default=None, metavar="NAME",
                        help="the text model's id in requests and /v1/models (default: the model folder's name, "
                             "all-MiniLM-L6-v2 for the packaged model)")
    parser.add_argument("--max-batch-tokens", type=int, default=defaults.max_batch_tokens,
                        help=f"token budget of one forward batch across requests (default: {defaults.max_batch_tokens})")
    parser.add_argument("--max-queue", type=int, default=defaults.max_queue,
                        help=f"requests that may wait for the model; more get 429 (default: {defaults.max_queue})")
    parser.add_argument("--max-request-inputs", type=int, default=defaults.max_request_inputs,
                        help=f"inputs per request; more get 413 (default: {defaults.max_request_inputs})")
    parser.add_argument("--max-body-mb", type=float, default=defaults.max_body_bytes / 2**20,
                        help=f"request body size in MiB; larger get 413 (default: {defaults.max_body_bytes / 2**20:g})")
    parser.add_argument("--batch-wait-ms", type=float, default=defaults.batch_wait_s * 1000,
                        help=f"how long a request may wait for others to share its forward pass "
                             f"(default: {defaults.batch_wait_s * 1000:g})")
    parser.add_argument("--access-log", action="store_true", help="log one line per request")


def run(args: argparse.Namespace) -> int:
    """Load the models, serve until SIGTERM or SIGINT, drain, return 0."""
    from sbert_rag.encoding.tokenize import TruncationWarning
    from sbert_rag.serve.app import Limits, create_app
    from sbert_rag.serve.embedder import Embedder
    from sbert_rag.serve.runner import run_server

    # Between forward passes the event loop and the admission threads need the cores; OpenMP's default
    # is to keep its workers spinning after each parallel region, which on a busy 2-core machine made
    # small batches 10x slower. Set before torch loads; an OMP_WAIT_POLICY already set wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    limits = Limits(
        max_batch_tokens=_positive(args.max_batch_tokens, "--max-batch-tokens"),
        max_queue=_positive(args.max_queue, "--max-queue"),
        max_request_inputs=_positive(args.max_request_inputs, "--max-request-inputs"),
        max_body_bytes=_positive(int(args.max_body_mb * 2**20), "--max-body-mb"),
        batch_wait_s=max(0.0, args.batch_wait_ms) / 1000,
        api_key=_api_key(args.api_key_env),
    )
    store = None
    if args.store is not None:
        from sbert_rag.indexing.engine import Store

        store = Store.open(args.store, model=args.model, clip=args.clip, device=args.device, dtype=args.dtype,
                           batch_size=args.batch_size, **location_options(args))
    if store is not None and args.model is None:
        from sbert_rag.encoding.dual import load_encoder

        text = load_encoder(store.models.encoder_config().replace(overflow=args.overflow))
    else:
        text = build_encoder(args)
    clip = None
    if args.clip is not None:
        from sbert_rag.image import CLIPEncoder

        clip = CLIPEncoder.load(args.clip, device=args.device, overflow=args.overflow)
    embedder = Embedder(text, clip, text_id=args.served_model_name)
    app = create_app(embedder, store, limits)
    # every response reports its truncated inputs (sbert_rag.truncated); a warning per request would flood the log
    warnings.filterwarnings("ignore", category=TruncationWarning)
    models = ", ".join(f"{m} ({embedder.dim(m)} dims, {embedder.max_tokens(m)} tokens)" for m in embedder.model_ids())
    print(f"sbert-rag serve: {models}, overflow {embedder.text_policy}"
          f"{', search over ' + str(store.location) if store is not None else ''}; "
          f"http://{args.host}:{args.port}/v1 (SIGTERM or Ctrl-C stops it)", file=sys.stderr, flush=True)
    run_server(app, args.host, args.port, access_log=args.access_log)
    return 0


def _positive(value: int, flag: str) -> int:
    if value < 1:
        raise ConfigError(f"{flag} must be at least 1, got {value}")
    return value


def _api_key(var: str | None) -> str | None:
    if var is None:
        return None
    key = os.environ.get(var, "")
    if not key.strip():
        raise ConfigError(f"--api-key-env names the environment variable {var}, which is unset or empty; set it to "
                          f"the key clients will send (e.g. export {var}=$(openssl rand -hex 24))")
    return key
