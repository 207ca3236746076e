"""Options shared by subcommands (model selection) and how they build an encoder."""

from __future__ import annotations

import argparse
import os
from typing import Any

from sbert_rag.config import EncoderConfig

_BATCH = EncoderConfig.batch_size


def add_model_arguments(parser: argparse.ArgumentParser, default_dtype: str = "auto") -> None:
    """Add --model, --device, --dtype, --batch-size, --overflow.

    Evaluation commands default to float32 so they reproduce reference figures exactly.
    """
    parser.add_argument("--model", default=None, help="model folder (one model, or query/ + passage/ of an untied pair) or Hub id (default: packaged all-MiniLM-L6-v2)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    parser.add_argument(
        "--dtype",
        default=default_dtype,
        help=f"auto (bf16 where the hardware has it), float32, bfloat16, float16, int8 (CPU, text model; default: {default_dtype})",
    )
    parser.add_argument("--batch-size", type=int, default=_BATCH, help=f"most texts per forward pass (default: {_BATCH})")
    parser.add_argument(
        "--overflow", default="warn", choices=["warn", "error", "windows"], help="over-long inputs (default: warn)"
    )


def build_encoder(args: argparse.Namespace) -> Any:
    """A TextEncoder (or a DualEncoder, for a saved query/passage pair) from the shared model options."""
    from sbert_rag.encoding.dual import load_encoder

    return load_encoder(
        args.model, device=args.device, dtype=args.dtype, batch_size=args.batch_size, overflow=args.overflow
    )


DEFAULT_STORE = ".sbert_rag"


def add_location_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --store, --collection, --token-env: where a store is."""
    parser.add_argument("--store", default=DEFAULT_STORE, metavar="PATH_OR_URL",
                        help=f"store folder, or a Chroma server's URL http://HOST:PORT (default: {DEFAULT_STORE} in "
                             f"the current directory)")
    parser.add_argument("--collection", default=None, metavar="NAME",
                        help="with a server URL: the store's collection on the server (default: sbert_rag)")
    parser.add_argument("--token-env", default="CHROMA_TOKEN", metavar="VAR",
                        help="with a server URL: the environment variable holding the server's token, sent as "
                             "a bearer token when set (default: CHROMA_TOKEN)")


def location_options(args: argparse.Namespace) -> dict[str, Any]:
    """``Store.open``'s ``collection`` and ``token`` from the location options."""
    from sbert_rag.indexing.server import is_server_location

    token = (os.environ.get(args.token_env) or None) if is_server_location(args.store) else None
    return {"collection": args.collection, "token": token}


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the location options and --model, --device, --dtype, --batch-size for the commands over a store."""
    add_location_arguments(parser)
    parser.add_argument("--model", default=None,
                        help="text model folder (one model, or query/ + passage/ of an untied pair) or Hub id; "
                             "default: the model the store recorded, and for a "
                             "new store the packaged all-MiniLM-L6-v2. Another model than the recorded one is refused")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    parser.add_argument("--dtype", default="auto",
                        help="auto (bf16 where the hardware has it), float32, bfloat16, float16, int8 (CPU, text model; default: auto)")
    parser.add_argument("--batch-size", type=int, default=_BATCH,
                        help=f"texts or images per forward pass (default: {_BATCH})")


def open_store(args: argparse.Namespace, *, create: bool = False, clip: str | None = None) -> Any:
    """The ``sbert_rag.Store`` the store options name (models load on first use)."""
    from sbert_rag.indexing.engine import Store

    return Store.open(args.store, create=create, model=args.model, clip=clip, device=args.device,
                      dtype=args.dtype, batch_size=args.batch_size, **location_options(args))
