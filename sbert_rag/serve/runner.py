"""Run the app under uvicorn until SIGTERM or SIGINT, then drain and return normally.

Owns the process side of ``sbert-rag serve``: binding (127.0.0.1 unless told otherwise), one
uvicorn server in this process, and the stop: on SIGTERM or SIGINT uvicorn stops accepting
connections, lets every in-flight request finish (their batches run to the end), runs the app's
shutdown (the batcher drains), and :func:`run_server` returns, so the command exits 0.
"""

from __future__ import annotations

import signal
from typing import Any

from sbert_rag._deps import require
from sbert_rag.errors import SbertRagError


def run_server(app: Any, host: str = "127.0.0.1", port: int = 8080, *, access_log: bool = False,
               graceful_timeout_s: float | None = 60.0) -> list[int]:
    """Serve ``app`` on ``host:port`` until a stop signal; returns the signals that stopped it.

    Args:
        app: the ASGI app (``create_app``).
        host: the address to bind; ``0.0.0.0`` listens on every interface.
        port: the TCP port.
        access_log: log one line per request.
        graceful_timeout_s: after a stop signal, the longest wait for in-flight requests
            (None = no limit).

    Raises:
        SbertRagError: the server stopped without having started (the address was taken).
    """
    uvicorn = require("uvicorn", extra="sbert-rag[serve]")
    stopped_by: list[int] = []
    config = uvicorn.Config(app, host=host, port=port, access_log=access_log, log_level="warning",
                            timeout_graceful_shutdown=graceful_timeout_s, lifespan="on")
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again for the handler it
    # found installed; with the default ones the process would die by SIGTERM (or KeyboardInterrupt)
    # after a clean drain. These record it instead, so the command returns 0.
    previous = {sig: signal.signal(sig, lambda number, frame: stopped_by.append(number))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started and not stopped_by:
        raise SbertRagError(f"the server did not start on {host}:{port} (is the port in use?); see the log above",
                            settings=("host", "port"))
    return stopped_by
