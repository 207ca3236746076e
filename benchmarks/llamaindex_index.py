"""LlamaIndex indexing speed: our SbertRagEmbedding vs HuggingFaceEmbedding, same model, ONE run.

Run from the repository root (the shared data lies in ../shared/data):
    python benchmarks/llamaindex_index.py --json [--docs N] [--device auto|cpu|cuda]
Needs llama-index-embeddings-huggingface (requirements-dev.txt). Runs offline: HF_HUB_OFFLINE=1
is set unless the environment says otherwise; both sides load the packaged all-MiniLM-L6-v2
folder (``sbert_rag.default_model_path()``).

What is timed: ``VectorStoreIndex.from_documents(docs, embed_model=..., transformations=[splitter],
storage_context=<in-memory SimpleVectorStore>)`` for each side, on the same Documents (SciFact
title + blank line + text, no metadata, so nodes embed exactly their text) and the same
SentenceSplitter instance. Model loading and one warm-up embedding are done before the clock
starts (HuggingFaceEmbedding loads in its constructor, ours on first use); load times are reported
apart. Both use ``embed_batch_size=32`` (our default; HF's is 10), so LlamaIndex hands both the
same batches. The timed figure includes LlamaIndex's node parsing, identical for both sides;
``split_seconds`` (the same splitter run once on its own) shows how much of each figure it is.
The two sides run one after the other on a possibly shared machine: rerun before trusting a
small difference.

Chunk size: 254 tokens of the model's own WordPiece tokenizer (the splitter counts with it, not
tiktoken), overlap 32. all-MiniLM-L6-v2 reads 256 tokens including [CLS] and [SEP], so every
node fits whole: HuggingFaceEmbedding (sentence-transformers) would truncate longer nodes at 256
silently, our adapter would truncate with a warning (overflow="warn"), and either way the sides
would no longer embed the same text. With a larger chunk size the comparison is unfair, with a
much smaller one it only adds nodes. The script checks this: ``max_node_tokens`` and
``nodes_over_limit`` (0 on SciFact) count the nodes as the model tokenizes them.
``min_cosine`` compares the two indexes' vectors node by node (our adapter may compute in bf16
on CPUs with native bf16, ``sbert_rag.dtype``; sentence-transformers uses fp32).

JSON keys: docs, nodes, chunk_size, chunk_overlap, embed_batch_size, device, split_seconds,
max_node_tokens, nodes_over_limit, sbert_rag / huggingface {seconds, docs_per_s, nodes_per_s,
load_seconds, ...}, time_ratio_hf_over_ours (HF seconds / ours: > 1 means ours is faster),
min_cosine, versions.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import gzip
import json
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parents[2] / "shared/data/scifact/corpus.jsonl.gz"
CHUNK_SIZE = 254  # the model's 256 tokens minus [CLS] and [SEP]
CHUNK_OVERLAP = 32
EMBED_BATCH_SIZE = 32


def load_documents(path: Path, limit: int | None) -> list:
    """SciFact corpus rows as LlamaIndex Documents (id = BEIR _id, text = title, blank line, text)."""
    from llama_index.core import Document

    docs = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if limit is not None and len(docs) >= limit:
                break
            row = json.loads(line)
            text = "\n\n".join(part for part in (row.get("title", "").strip(), row.get("text", "").strip()) if part)
            docs.append(Document(text=text, id_=str(row["_id"])))
    return docs


def make_splitter(model_dir: Path):
    """SentenceSplitter counting content tokens (no specials) with the model's own tokenizer."""
    from llama_index.core.node_parser import SentenceSplitter
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_truncation()  # all-MiniLM's tokenizer.json truncates at 128
    tokenizer.no_padding()

    def count(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False).ids

    return SentenceSplitter(
        chunk_size=CHUNK_SIZE,
        chunk_overlap=CHUNK_OVERLAP,
        tokenizer=count,
        id_func=lambda i, doc: f"{doc.doc_id}:{i}",  # same node ids on both sides
    )


def build_index(docs: list, embed_model, splitter) -> tuple[object, float]:
    """Index ``docs`` into an in-memory vector store; returns the index and the seconds taken."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.vector_stores import SimpleVectorStore

    storage = StorageContext.from_defaults(vector_store=SimpleVectorStore())
    start = time.perf_counter()
    index = VectorStoreIndex.from_documents(
        docs, embed_model=embed_model, transformations=[splitter], storage_context=storage
    )
    return index, time.perf_counter() - start


def vectors(index) -> dict[str, list[float]]:
    """Node id -> embedding from a VectorStoreIndex on a SimpleVectorStore."""
    return index.vector_store.data.embedding_dict


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=None, help="first N corpus documents (default all 5,183)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, ... (default auto)")
    parser.add_argument("--corpus", default=str(CORPUS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.docs is not None and args.docs < 1:
        parser.error("--docs must be at least 1")

    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.embeddings.sbert_rag import SbertRagEmbedding

    from sbert_rag import default_model_path

    model_dir = Path(default_model_path())
    docs = load_documents(Path(args.corpus), args.docs)
    splitter = make_splitter(model_dir)

    # ours: constructed lazily, so load (and resolve the device) before the clock starts
    start = time.perf_counter()
    ours = SbertRagEmbedding(model_path=str(model_dir), device=args.device, embed_batch_size=EMBED_BATCH_SIZE)
    encoder = ours.encoder
    ours_load = time.perf_counter() - start
    device = str(encoder.device)  # "auto" resolved once; HF gets the same device
    start = time.perf_counter()
    hf = HuggingFaceEmbedding(model_name=str(model_dir), device=device, embed_batch_size=EMBED_BATCH_SIZE)
    hf_load = time.perf_counter() - start
    for model in (ours, hf):
        model.get_text_embedding("warm-up")

    # node parsing alone, untimed for the comparison: node count and token lengths
    start = time.perf_counter()
    nodes = splitter.get_nodes_from_documents(docs)
    split_seconds = time.perf_counter() - start
    lengths = encoder.count_tokens([n.get_content(metadata_mode="embed") for n in nodes], role="passage")

    ours_index, ours_s = build_index(docs, ours, splitter)
    hf_index, hf_s = build_index(docs, hf, splitter)

    a, b = vectors(ours_index), vectors(hf_index)
    if set(a) != set(b) or len(a) != len(nodes):
        raise SystemExit(f"the two indexes hold different nodes ({len(a)} vs {len(b)}, {len(nodes)} parsed)")
    ids = sorted(a)
    va, vb = np.asarray([a[i] for i in ids], dtype=np.float64), np.asarray([b[i] for i in ids], dtype=np.float64)
    cos = (va * vb).sum(1) / (np.linalg.norm(va, axis=1) * np.linalg.norm(vb, axis=1))

    def side(seconds: float, load: float, **extra: object) -> dict:
        return {
            "seconds": round(seconds, 3),
            "docs_per_s": round(len(docs) / seconds, 2),
            "nodes_per_s": round(len(nodes) / seconds, 2),
            "load_seconds": round(load, 3),
            **extra,
        }

    result = {
        "docs": len(docs),
        "nodes": len(nodes),
        "chunk_size": CHUNK_SIZE,
        "chunk_overlap": CHUNK_OVERLAP,
        "embed_batch_size": EMBED_BATCH_SIZE,
        "device": device,
        "split_seconds": round(split_seconds, 3),
        "max_node_tokens": max(lengths),
        "nodes_over_limit": sum(n > encoder.max_tokens for n in lengths),
        "sbert_rag": side(ours_s, ours_load, dtype=encoder.dtype.value, overflow=encoder.overflow.value),
        "huggingface": side(hf_s, hf_load, dtype=str(next(hf._model.parameters()).dtype).removeprefix("torch.")),
        "time_ratio_hf_over_ours": round(hf_s / ours_s, 3),
        "min_cosine": round(float(cos.min()), 5),
        "versions": {
            d: version(d)
            for d in ("sbert-rag", "llama-index-core", "llama-index-embeddings-huggingface",
                      "sentence-transformers", "torch")
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"SciFact: {result['docs']} documents -> {result['nodes']} nodes "
              f"(SentenceSplitter {CHUNK_SIZE}/{CHUNK_OVERLAP} model tokens, {split_seconds:.1f} s to split), "
              f"device {device}")
        for name in ("sbert_rag", "huggingface"):
            r = result[name]
            print(f"{name:12s} {r['seconds']:9.2f} s  {r['docs_per_s']:8.2f} docs/s  {r['nodes_per_s']:8.2f} nodes/s"
                  f"  (load {r['load_seconds']:.2f} s, {r['dtype']})")
        print(f"HF seconds / ours: {result['time_ratio_hf_over_ours']:.2f}   min cosine: {result['min_cosine']:.4f}"
              f"   nodes over {encoder.max_tokens} tokens: {result['nodes_over_limit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
