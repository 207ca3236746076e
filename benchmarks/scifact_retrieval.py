"""Every retrieval figure of docs/retrieval.md on SciFact dev, with embeddings cached between runs.

Embeds the corpus twice with the default model (whole documents truncated at 256 tokens, as
sentence-transformers does, and token-aware chunks), then scores dense, BM25 and a grid of hybrid
fusions. Takes about 35 minutes on 2 CPU cores the first time, seconds afterwards (the cache is
keyed by a hash of the model and of the exact passage texts, so a chunker change re-embeds).

    HF_HUB_OFFLINE=1 python benchmarks/scifact_retrieval.py [--set-dir ../shared/data/scifact] \
        [--split dev] [--cache /tmp/sbert_rag_bench]

Tune on dev only: BEIR's SciFact test split is held out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from sbert_rag import TextEncoder
from sbert_rag.chunking import ChunkerConfig
from sbert_rag.commands.eval_retrieval import corpus_passages, bm25_rankings, dense_rankings, fuse_rankings, score_rankings
from sbert_rag.evaluation import load_beir
from sbert_rag.retrieval import BM25Config, FusionConfig


def cached_corpus(dataset, encoder, chunking, cache: Path, model_key: str):
    """``embed_corpus`` with a disk cache keyed by the model and the exact passage texts."""
    ids, passages, doc_of = corpus_passages(dataset, encoder, chunking)
    key = hashlib.sha1("\n".join([model_key, *passages]).encode()).hexdigest()[:16]
    path = cache / f"{key}.npy"
    if path.is_file():
        vectors = np.load(path)
    else:
        vectors = encoder.encode_passages(passages)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return ids, vectors, doc_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set-dir", default=str(Path(__file__).resolve().parents[2] / "shared/data/scifact"))
    parser.add_argument("--split", default="dev")
    parser.add_argument("--cache", default="/tmp/sbert_rag_bench")
    args = parser.parse_args()
    dataset = load_beir(args.set_dir, args.split)
    encoder = TextEncoder.from_pretrained(None, device="cpu", dtype="float32")  # reference figures: fp32
    model_key = str(encoder)
    rows: list[tuple[str, dict]] = []

    def report(name: str, rankings) -> None:
        result = score_rankings(rankings, dataset)
        rows.append((name, result))
        print(f"| {name} | {result['ndcg@10']:.2f} | {result['recall@100']:.2f} | {result['mrr@10']:.2f} |", flush=True)

    print(f"SciFact {args.split}: {len(dataset.queries)} queries, {len(dataset.corpus)} documents")
    print("| run | nDCG@10 | recall@100 | MRR@10 |\n| --- | ---: | ---: | ---: |")
    dense = {}
    for name, chunking in [("truncated at 256", None), ("chunked 256/32", ChunkerConfig(overlap_tokens=32))]:
        corpus = cached_corpus(dataset, encoder, chunking, Path(args.cache), model_key)
        for how in (("max", "sum") if chunking else ("max",)):
            ranked, _ = dense_rankings(dataset, encoder, chunking, 1000, FusionConfig(aggregation=how), corpus)
            label = f"dense, {name}" + (f", {how} over chunks" if chunking else "")
            dense[label] = ranked
            report(label, ranked)
    lexical = {}
    for stem in (None, "english"):
        lexical[stem], _ = bm25_rankings(dataset, BM25Config(stopwords="en", stemmer=stem), 1000)
        report(f"bm25, en stopwords, stemmer={stem}", lexical[stem])
    fusions = [("rrf k=60", FusionConfig(method="rrf", dense_weight=1.0, bm25_weight=1.0))]
    fusions += [(f"minmax {w:.1f}/{1 - w:.1f}", FusionConfig(dense_weight=w, bm25_weight=round(1 - w, 1)))
                for w in (0.3, 0.4, 0.5, 0.6, 0.7)]
    fusions += [("zscore 0.5/0.5", FusionConfig(normalization="zscore")),
                ("minmax 0.5/0.5 depth 1000", FusionConfig(depth=1000))]
    for dense_label in ("dense, truncated at 256", "dense, chunked 256/32, max over chunks"):
        for stem in (None, "english"):
            for fusion_name, fusion in fusions:
                ranked = fuse_rankings(dense[dense_label], lexical[stem], fusion)
                report(f"hybrid: {dense_label.removeprefix('dense, ')} + bm25 stemmer={stem}, {fusion_name}", ranked)
    out = Path(args.cache) / f"results_{args.split}.json"
    out.write_text(json.dumps(dict(rows), indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
