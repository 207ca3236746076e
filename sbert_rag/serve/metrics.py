"""The server's counters and histograms, written as Prometheus text (``GET /metrics``).

Owns the metric names and their exposition (text format 0.0.4): requests by route and status,
inputs and tokens embedded, forward batches with their sizes in inputs and in requests (a batch
of more than one request is the dynamic batcher merging them), the queue's depth, and request
latency. Needs no Prometheus client library; updates come from the event loop and the model's
worker thread, so they take a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


class Histogram:
    """Cumulative buckets, a sum and a count, as Prometheus reads them."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * len(self.bounds)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str, labels: str = "") -> list[str]:
        sep = "," if labels else ""
        out = [f'{name}_bucket{{{labels}{sep}le="{b:g}"}} {c}' for b, c in zip(self.bounds, self.counts)]
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.n}')
        suffix = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{suffix} {self.total:.6g}", f"{name}_count{suffix} {self.n}"]
        return out


class Metrics:
    """Everything ``/metrics`` shows; ``queue_depth`` is read from the batcher when rendering."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.latency: dict[str, Histogram] = {}
        self.inputs: dict[str, int] = {"text": 0, "image": 0}
        self.tokens = 0
        self.truncated_inputs = 0
        self.batches = 0
        self.merged_batches = 0
        self.batch_inputs = Histogram(SIZE_BUCKETS)
        self.batch_requests = Histogram(SIZE_BUCKETS)
        self.rejected_queue_full = 0

    def request(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, status)] = self.requests.get((route, status), 0) + 1
            self.latency.setdefault(route, Histogram(LATENCY_BUCKETS_S)).observe(seconds)

    def embedded(self, kind: str, n_inputs: int, n_tokens: int, n_truncated: int) -> None:
        with self._lock:
            self.inputs[kind] = self.inputs.get(kind, 0) + n_inputs
            self.tokens += n_tokens
            self.truncated_inputs += n_truncated

    def batch(self, n_inputs: int, n_requests: int) -> None:
        with self._lock:
            self.batches += 1
            self.merged_batches += n_requests > 1
            self.batch_inputs.observe(n_inputs)
            self.batch_requests.observe(n_requests)

    def queue_full(self) -> None:
        with self._lock:
            self.rejected_queue_full += 1

    def render(self, queue_depth: int, in_flight: int) -> str:
        """The Prometheus text exposition of every metric."""
        with self._lock:
            out = ["# HELP sbert_rag_requests_total HTTP requests answered, by route and status.",
                   "# TYPE sbert_rag_requests_total counter"]
            out += [f'sbert_rag_requests_total{{route="{r}",status="{s}"}} {n}'
                    for (r, s), n in sorted(self.requests.items())]
            out += ["# HELP sbert_rag_request_seconds Request latency, from the body read to the answer.",
                    "# TYPE sbert_rag_request_seconds histogram"]
            for route, hist in sorted(self.latency.items()):
                out += hist.lines("sbert_rag_request_seconds", f'route="{route}"')
            out += ["# HELP sbert_rag_inputs_total Inputs embedded, by kind.", "# TYPE sbert_rag_inputs_total counter"]
            out += [f'sbert_rag_inputs_total{{kind="{k}"}} {n}' for k, n in sorted(self.inputs.items())]
            out += ["# HELP sbert_rag_tokens_total Tokens of the text inputs embedded (prompts and special tokens "
                    "included).", "# TYPE sbert_rag_tokens_total counter", f"sbert_rag_tokens_total {self.tokens}",
                    "# HELP sbert_rag_truncated_inputs_total Inputs cut to the model's length (overflow policy warn).",
                    "# TYPE sbert_rag_truncated_inputs_total counter",
                    f"sbert_rag_truncated_inputs_total {self.truncated_inputs}",
                    "# HELP sbert_rag_batches_total Forward batches run.", "# TYPE sbert_rag_batches_total counter",
                    f"sbert_rag_batches_total {self.batches}",
                    "# HELP sbert_rag_merged_batches_total Forward batches that served more than one request.",
                    "# TYPE sbert_rag_merged_batches_total counter",
                    f"sbert_rag_merged_batches_total {self.merged_batches}",
                    "# HELP sbert_rag_batch_inputs Inputs per forward batch.", "# TYPE sbert_rag_batch_inputs histogram"]
            out += self.batch_inputs.lines("sbert_rag_batch_inputs")
            out += ["# HELP sbert_rag_batch_requests Requests per forward batch.",
                    "# TYPE sbert_rag_batch_requests histogram"]
            out += self.batch_requests.lines("sbert_rag_batch_requests")
            out += ["# HELP sbert_rag_queue_depth Requests waiting for the model.", "# TYPE sbert_rag_queue_depth gauge",
                    f"sbert_rag_queue_depth {queue_depth}",
                    "# HELP sbert_rag_in_flight Embedding requests admitted and not yet answered.",
                    "# TYPE sbert_rag_in_flight gauge", f"sbert_rag_in_flight {in_flight}",
                    "# HELP sbert_rag_queue_full_total Requests refused with 429 because the queue was full.",
                    "# TYPE sbert_rag_queue_full_total counter",
                    f"sbert_rag_queue_full_total {self.rejected_queue_full}"]
            return "\n".join(out) + "\n"
