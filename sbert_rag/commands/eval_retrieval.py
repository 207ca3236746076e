"""``sbert-rag eval retrieval SET_DIR --mode dense|bm25|hybrid``: nDCG@10, recall@100, MRR@10 on a BEIR set.

Owns the evaluation pipeline of the command: load the set, chunk documents so nothing is
truncated, embed, then rank through the one search path (``sbert_rag.retrieval.hybrid_search``:
dense over chunks, BM25 over whole documents, chunk hits folded into documents, fused), score.
With ``--store`` the rankings come from a store built by ``sbert-rag index`` over the corpus
written as one file per document (``benchmarks/beir_as_files.py``), through ``Store.rank``.
The steps are functions (``embed_corpus``, ``dense_rankings``, ``bm25_rankings``, ``fuse_rankings``)
so a benchmark script can embed once and try several fusions. Models load only for ``dense`` and ``hybrid``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from sbert_rag.chunking import Chunker, ChunkerConfig
from sbert_rag.commands.common import add_model_arguments, build_encoder
from sbert_rag.evaluation import RetrievalSet, evaluate, load_beir
from sbert_rag.retrieval import (
    BM25Config,
    BM25Index,
    BM25Source,
    DenseIndex,
    DenseSource,
    FusionConfig,
    RankedLists,
    hybrid_search,
)
from sbert_rag.types import FloatMatrix, Hit

Rankings = dict[str, list[Hit]]
"""query id -> document hits, best first."""

EVAL_DEPTH = 100  # documents kept per query: recall@100 needs 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag eval retrieval``."""
    parser.add_argument("set_dir", metavar="SET_DIR", help="BEIR layout: queries.jsonl and qrels/<split>.tsv")
    parser.add_argument("--corpus", metavar="CORPUS_DIR", default=None,
                        help="folder with corpus.jsonl or corpus.jsonl.gz (default: SET_DIR)")
    parser.add_argument("--split", default="test", help="qrels file name without .tsv (default: test)")
    parser.add_argument("--mode", required=True, choices=["dense", "bm25", "hybrid"], help="retriever to evaluate")
    parser.add_argument("--json", action="store_true", help="print one JSON object (metrics x100, two decimals)")
    parser.add_argument("--store", default=None, metavar="PATH",
                        help="rank with a store built by 'sbert-rag index' over the corpus written as one file per "
                             "document named <doc id>.<suffix> (benchmarks/beir_as_files.py); its recorded model, "
                             "chunking and BM25 settings apply, and the fusion options below")
    add_model_arguments(parser, default_dtype="float32")  # reference figures are float32
    chunk = parser.add_argument_group("chunking (dense side)")
    chunk.add_argument("--no-chunking", action="store_true",
                       help="embed each document whole; longer ones are truncated with a warning (for parity checks)")
    chunk.add_argument("--max-tokens", type=int, default=None, help="tokens per chunk (default: the model's limit)")
    chunk.add_argument("--overlap-tokens", type=int, default=32, help="tokens shared by consecutive chunks (default: 32)")
    chunk.add_argument("--no-title", action="store_true", help="do not prepend the title to each chunk")
    lexical = parser.add_argument_group("BM25")
    lexical.add_argument("--stopwords", default="en", help="bm25s stopword list, or 'none' (default: en)")
    lexical.add_argument("--stemmer", default="english", help="Snowball language, or 'none' (default: english)")
    fusion = parser.add_argument_group("fusion (hybrid)")
    defaults = FusionConfig()
    fusion.add_argument("--fusion", default=defaults.method.value, choices=["score", "rrf"],
                        help=f"normalised score fusion or reciprocal rank (default: {defaults.method.value})")
    fusion.add_argument("--dense-weight", type=float, default=defaults.dense_weight)
    fusion.add_argument("--bm25-weight", type=float, default=defaults.bm25_weight)
    fusion.add_argument("--normalization", default=defaults.normalization.value, choices=["minmax", "zscore"])
    fusion.add_argument("--rrf-k", type=float, default=defaults.rrf_k)
    fusion.add_argument("--depth", type=int, default=defaults.depth, help="candidates per retriever before fusing")
    fusion.add_argument("--aggregation", default=defaults.aggregation.value, choices=["max", "sum"],
                        help="chunk -> document score")


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the result; errors of sbert_rag propagate to the CLI's handler."""
    started = time.perf_counter()
    dataset = load_beir(args.set_dir, args.split, args.corpus)
    skipped = len(dataset.skipped_documents)
    if skipped:
        print(f"note: skipped {skipped} documents whose title and text are blank; judgments of them count as misses",
              file=sys.stderr)
    fusion = FusionConfig(
        method=args.fusion, dense_weight=args.dense_weight, bm25_weight=args.bm25_weight,
        normalization=args.normalization, rrf_k=args.rrf_k, depth=args.depth, aggregation=args.aggregation,
    )
    if args.store is not None:
        rankings, extra = store_rankings(dataset, args.store, args.mode, fusion,
                                         device=args.device, dtype=args.dtype, batch_size=args.batch_size)
        return _report(args, dataset, rankings, extra, skipped, started)
    depth = max(EVAL_DEPTH, fusion.depth)
    extra: dict[str, Any] = {}
    dense = lexical = None
    # BM25 first: it takes seconds, so a bad BM25 option fails before an hour of embedding
    if args.mode in ("bm25", "hybrid"):
        config = BM25Config(stopwords=_none(args.stopwords), stemmer=_none(args.stemmer))
        lexical, unmatched = bm25_rankings(dataset, config, depth)
        if unmatched:
            extra["queries_without_bm25_terms"] = unmatched
            print(f"warning: {unmatched} queries share no term with the BM25 index; they get no BM25 hits",
                  file=sys.stderr)
    if args.mode in ("dense", "hybrid"):
        chunking = None if args.no_chunking else ChunkerConfig(
            max_tokens=args.max_tokens, overlap_tokens=args.overlap_tokens, include_title=not args.no_title
        )
        encoder = build_encoder(args)
        dense, extra["chunks"] = dense_rankings(dataset, encoder, chunking, depth, fusion)
    if dense is not None and lexical is not None:
        rankings = fuse_rankings(dense, lexical, fusion)
    else:
        rankings = dense if dense is not None else lexical
    return _report(args, dataset, rankings or {}, extra, skipped, started)


def _report(args: argparse.Namespace, dataset: RetrievalSet, rankings: Rankings, extra: dict[str, Any],
            skipped: int, started: float) -> int:
    result = score_rankings(rankings, dataset)
    result.update(mode=args.mode, split=args.split, skipped_documents=skipped, **extra,
                  seconds=round(time.perf_counter() - started, 1))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.mode} on {dataset.split} ({result['queries']} queries, {result['docs']} docs, "
              f"{skipped} blank skipped): "
              f"nDCG@10 {result['ndcg@10']:.2f}  recall@100 {result['recall@100']:.2f}  MRR@10 {result['mrr@10']:.2f}")
    return 0


def embed_corpus(
    dataset: RetrievalSet, encoder: Any, chunking: ChunkerConfig | None
) -> tuple[list[str], FloatMatrix, dict[str, str]]:
    """Embed the corpus, chunked unless ``chunking`` is None.

    Args:
        dataset: the loaded set.
        encoder: an ``Encoder`` that is also a ``TokenCounter`` (a ``TextEncoder``).
        chunking: chunk options; ``None`` embeds each document whole as ``title + " " + text``.

    Returns:
        Passage ids, their vectors float32 (n, dim), and passage id -> document id (empty when
        not chunked).
    """
    ids, passages, doc_of = corpus_passages(dataset, encoder, chunking)
    return ids, encoder.encode_passages(passages), doc_of


def dense_rankings(
    dataset: RetrievalSet, encoder: Any, chunking: ChunkerConfig | None, depth: int,
    fusion: FusionConfig | None = None, corpus: tuple[list[str], FloatMatrix, dict[str, str]] | None = None,
) -> tuple[Rankings, int]:
    """Rank documents for every query by dense similarity (best chunk by default).

    Args:
        dataset: the loaded set.
        encoder: embeds queries (and the corpus unless ``corpus`` is given).
        chunking: see ``embed_corpus``.
        depth: documents kept per query.
        fusion: supplies the chunk -> document aggregation; ``None`` means max.
        corpus: the output of ``embed_corpus``, to reuse embeddings.

    Returns:
        Document rankings per query id, and the number of passages embedded.
    """
    ids, vectors, doc_of = corpus if corpus is not None else embed_corpus(dataset, encoder, chunking)
    index = DenseIndex(encoder.dim)
    index.add(ids, vectors)
    queries = list(dataset.queries.values())
    hits = hybrid_search(DenseSource(encoder, index), None, queries, min(depth, len(dataset.corpus)), fusion, doc_of)
    return dict(zip(dataset.queries, hits)), len(ids)


def bm25_rankings(dataset: RetrievalSet, config: BM25Config, depth: int) -> tuple[Rankings, int]:
    """Rank whole documents (``title + " " + text``) with BM25; BM25 has no length limit to chunk for.

    Returns:
        Document rankings per query id, and how many queries had no known term (empty ranking).
    """
    texts = [_join(d.title, d.text) for d in dataset.corpus.values()]
    index = BM25Index.from_texts(list(dataset.corpus), texts, config)
    hits = hybrid_search(None, BM25Source(index), list(dataset.queries.values()), min(depth, len(index)))
    return dict(zip(dataset.queries, hits)), sum(1 for h in hits if not h)


def fuse_rankings(dense: Rankings, lexical: Rankings, fusion: FusionConfig) -> Rankings:
    """Fuse two document rankings per query under ``fusion``, through the one search path."""
    queries = list(dense)
    fused = hybrid_search(RankedLists([dense[q] for q in queries]), RankedLists([lexical[q] for q in queries]),
                          queries, EVAL_DEPTH, fusion)
    return dict(zip(queries, fused))


def store_rankings(
    dataset: RetrievalSet, store_path: str, mode: str, fusion: FusionConfig, **model_options: Any
) -> tuple[Rankings, dict[str, Any]]:
    """Rank documents with a store of the corpus written as files (``<doc id>.<suffix>`` each).

    Chunk hits are folded into their files (best chunk) in each ranking before fusion, as the
    in-memory path folds chunks into documents; a file's name without its suffix is the document id.

    Args:
        dataset: the loaded set.
        store_path: the store folder.
        mode: ``hybrid``, ``dense`` or ``bm25``.
        fusion: fusion options of the hybrid mode.
        model_options: ``device``, ``dtype``, ``batch_size`` for ``Store.open``.

    Returns:
        Document rankings per query id, and the store's counts for the output.
    """
    from sbert_rag.indexing.engine import Store

    store = Store.open(store_path, fusion=fusion, **model_options)
    ranked = store.rank(list(dataset.queries.values()), EVAL_DEPTH, mode, by="file")
    rankings = {
        q: [Hit(_doc_id(h.id), h.score, h.rank, h.source) for h in hits] for q, hits in zip(dataset.queries, ranked)
    }
    info = store.info()
    return rankings, {"store": str(store.path), "chunks": info["chunks"], "files": info["files"]}


def _doc_id(file: str) -> str:
    name = file.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def score_rankings(rankings: Rankings, dataset: RetrievalSet) -> dict[str, Any]:
    """Metrics x100 with two decimals, plus query and document counts."""
    run = {q: [h.id for h in hits] for q, hits in rankings.items()}
    metrics = evaluate(run, dataset.qrels)
    out: dict[str, Any] = {k: round(100 * v, 2) for k, v in metrics.items() if k != "queries"}
    out.update(queries=int(metrics["queries"]), docs=len(dataset.corpus))
    return out


def corpus_passages(
    dataset: RetrievalSet, counter: Any, chunking: ChunkerConfig | None
) -> tuple[list[str], list[str], dict[str, str]]:
    docs = list(dataset.corpus.values())
    if chunking is None:
        return [d.id for d in docs], [_join(d.title, d.text) for d in docs], {}
    chunker = Chunker(counter, chunking)
    chunks = chunker.split_documents([d.id for d in docs], [d.text for d in docs], [d.title for d in docs])
    return [c.chunk_id for c in chunks], [chunker.passage_text(c) for c in chunks], {c.chunk_id: c.doc_id for c in chunks}


def _join(title: str, text: str) -> str:
    return f"{title} {text}".strip()


def _none(value: str) -> str | None:
    return None if value.strip().lower() in ("none", "") else value


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - until wired into sbert_rag.cli
    """Run the command standalone: ``python -m sbert_rag.commands.eval_retrieval SET_DIR --mode bm25``."""
    parser = argparse.ArgumentParser(prog="sbert-rag eval retrieval")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
