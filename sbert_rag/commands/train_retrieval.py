"""``sbert-rag train retrieval --data SET_DIR --split train --out DIR``: fine-tune on a BEIR-layout set.

Owns the retrieval fine-tuning pipeline: load (query, relevant document) pairs, mine hard
negatives with the starting model and/or BM25, train a query model (passages keep the starting
model), an untied query/passage pair, or one tied model with
multiple-negatives ranking (or its cached variant, or triplet), evaluate on a dev split with the
exact pipeline of ``sbert-rag eval retrieval`` (chunked documents, dense and hybrid nDCG@10), and
save the best model as a sentence-transformers folder (``query/`` and ``passage/`` folders when
untied). Corpus embeddings are cached under ``--cache-dir`` (keyed by the model's weights), so
mining and the baseline evaluation share one encoding of the corpus.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from sbert_rag.chunking import ChunkerConfig
from sbert_rag.evaluation import RetrievalSet, load_beir

logger = logging.getLogger(__name__)

# Defaults reach the SciFact figures of docs/training.md (runs logged in benchmarks/RESULTS.md) on 2 CPU cores in about 15 minutes.
DEFAULTS = {
    "hard_negatives": 1, "mining": "dense", "mining_range": (0, 30), "mining_margin": 0.05,
    "batch_size": 32, "epochs": 3, "learning_rate": 1e-4, "scale": 20.0, "towers": "query",
    "max_query_tokens": 64, "max_passage_tokens": 256,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag train retrieval``."""
    parser.add_argument("--data", required=True, metavar="SET_DIR", help="BEIR layout: queries.jsonl, qrels/<split>.tsv, corpus")
    parser.add_argument("--split", default="train", help="qrels split to train on (default: train)")
    parser.add_argument("--corpus", metavar="CORPUS_DIR", default=None, help="folder with corpus.jsonl[.gz] (default: SET_DIR)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the trained model (sentence-transformers format)")
    parser.add_argument("--model", default=None, help="starting model folder (default: packaged all-MiniLM-L6-v2)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    mining = parser.add_argument_group("hard negatives")
    mining.add_argument("--hard-negatives", type=int, default=DEFAULTS["hard_negatives"], metavar="N",
                        help=f"mined negatives per query, 0 for in-batch negatives only (default: {DEFAULTS['hard_negatives']})")
    mining.add_argument("--mining", choices=["dense", "bm25", "both"], default=DEFAULTS["mining"],
                        help=f"retriever proposing negatives: the starting model, BM25, or both (default: {DEFAULTS['mining']})")
    mining.add_argument("--mining-range", type=int, nargs=2, default=DEFAULTS["mining_range"], metavar=("START", "END"),
                        help="eligible ranks [START, END), 0-based (default: %(default)s)")
    mining.add_argument("--mining-margin", type=float, default=DEFAULTS["mining_margin"],
                        help="drop candidates the model scores within this of the best positive; negative = off (default: %(default)s)")
    mining.add_argument("--mining-sampling", choices=["random", "top"], default="random", help="pick among eligible candidates (default: random)")
    loss = parser.add_argument_group("loss and towers")
    loss.add_argument("--loss", choices=["mnrl", "cached-mnrl", "triplet"], default="mnrl", help="(default: mnrl)")
    loss.add_argument("--scale", type=float, default=DEFAULTS["scale"], help="inverse temperature (default: %(default)s)")
    loss.add_argument("--symmetric", action="store_true", help="add the passage -> query term")
    loss.add_argument("--mini-batch-size", type=int, default=16, help="rows per forward pass of cached-mnrl (default: 16)")
    loss.add_argument(
        "--towers", choices=["query", "untied", "tied"], default=DEFAULTS["towers"],
        help="query: train a query model, keep the starting model for passages (an existing index stays valid); "
             "untied: train both as separate models; tied: train one shared model. query and untied save "
             "query/ and passage/ folders, which --model of every command accepts (default: %(default)s)")
    _add_training_arguments(parser, DEFAULTS)
    parser.add_argument("--max-query-tokens", type=int, default=None,
                        help=f"query length in training (default: {DEFAULTS['max_query_tokens']} or the model's limit if lower)")
    parser.add_argument("--max-passage-tokens", type=int, default=None,
                        help=f"passage length in training (default: {DEFAULTS['max_passage_tokens']} or the model's limit if lower)")
    ev = parser.add_argument_group("evaluation")
    ev.add_argument("--eval-split", default=None, help="qrels split to evaluate on after each epoch, e.g. dev (default: none)")
    ev.add_argument("--eval-dtype", default="auto", help="precision of evaluation and mining encodes (default: auto)")


def _add_training_arguments(parser: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--batch-size", type=int, default=defaults["batch_size"], help="examples per batch (default: %(default)s)")
    group.add_argument("--epochs", type=int, default=defaults["epochs"], help="(default: %(default)s)")
    group.add_argument("--lr", type=float, default=defaults["learning_rate"], help="peak learning rate (default: %(default)s)")
    group.add_argument("--warmup-ratio", type=float, default=0.1, help="(default: %(default)s)")
    group.add_argument("--weight-decay", type=float, default=0.01, help="(default: %(default)s)")
    group.add_argument("--grad-accumulation", type=int, default=1, help="batches per optimiser step (default: 1)")
    group.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    group.add_argument("--bf16", choices=["auto", "on", "off"], default="auto", help="bf16 autocast (default: auto = where native)")
    group.add_argument("--eval-steps", type=int, default=None, help="also evaluate every N steps")
    group.add_argument("--eval-at-start", action="store_true", help="evaluate the starting model first (the baseline)")
    group.add_argument("--eval-last-epoch-only", action="store_true", help="skip the evaluations after earlier epochs")
    group.add_argument("--checkpoint-steps", type=int, default=None, help="write a resumable checkpoint every N steps")
    group.add_argument("--resume", action="store_true", help="resume from OUT/checkpoint")
    group.add_argument("--seed", type=int, default=0, help="(default: 0)")
    group.add_argument("--cache-dir", default=None, help="cache for corpus/teacher embeddings, e.g. /tmp/sbert-rag-cache")
    group.add_argument("--threads", type=int, default=None,
                       help="torch CPU threads (default: torch's choice; 1 is fastest on a busy 2-core machine)")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")
    group.add_argument("--json", action="store_true", help="print the result as one JSON object")


def training_config(args: argparse.Namespace) -> Any:
    """The ``TrainingConfig`` of the shared training arguments (and ``--threads`` applied)."""
    from sbert_rag._deps import require
    from sbert_rag.config import check_positive_int
    from sbert_rag.training.trainer import TrainingConfig

    if args.threads is not None:
        require("torch").set_num_threads(check_positive_int(args.threads, "threads"))

    return TrainingConfig(
        epochs=args.epochs, learning_rate=args.lr, weight_decay=args.weight_decay, warmup_ratio=args.warmup_ratio,
        grad_accumulation=args.grad_accumulation, bf16={"auto": None, "on": True, "off": False}[args.bf16],
        eval_steps=args.eval_steps, eval_each_epoch=not args.eval_last_epoch_only, eval_at_start=args.eval_at_start, checkpoint_steps=args.checkpoint_steps,
        max_steps=args.max_steps, seed=args.seed, show_progress=not args.no_progress,
    )


def length(requested: int | None, default: int, encoder: Any) -> int:
    """The training length: as requested, else ``default`` capped at the model's limit."""
    return requested if requested is not None else min(default, encoder.max_tokens)


def run(args: argparse.Namespace) -> int:
    """Train, evaluate and save; print a summary."""
    from sbert_rag.encoding.text_encoder import TextEncoder
    from sbert_rag.training.data import NoDuplicatesBatchSampler, RetrievalExample, retrieval_examples
    from sbert_rag.training.objectives import RankingObjective
    from sbert_rag.training.towers import TowerPair
    from sbert_rag.training.trainer import Trainer

    config = training_config(args)
    dataset = load_beir(args.data, args.split, args.corpus)
    encoder = TextEncoder.from_pretrained(args.model, device=args.device, dtype="float32")
    summary: dict[str, Any] = {"train_queries": len(dataset.queries)}
    negatives = None
    if args.hard_negatives > 0:
        negatives = mine(dataset, encoder, args)
        summary.update(mined_queries=len(negatives))
        if len(negatives) < len(dataset.queries):
            missing = len(dataset.queries) - len(negatives)
            print(f"warning: {missing} of {len(dataset.queries)} queries got fewer than {args.hard_negatives} "
                  "negatives past the filters and are left out; widen --mining-range or lower --mining-margin",
                  file=sys.stderr)
    examples = retrieval_examples(dataset, negatives)
    if negatives is not None:
        examples = [e for e in examples if e.anchor_id in negatives]
    summary["train_pairs"] = len(examples)
    towers = TowerPair.from_encoder(
        encoder, untied=args.towers != "tied", freeze_passage=args.towers == "query",
        max_query_tokens=length(args.max_query_tokens, DEFAULTS["max_query_tokens"], encoder),
        max_passage_tokens=length(args.max_passage_tokens, DEFAULTS["max_passage_tokens"], encoder),
    )
    objective = RankingObjective(towers, loss=args.loss, scale=args.scale, symmetric=args.symmetric,
                                 mini_batch_size=args.mini_batch_size)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        objective.prepare(examples)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    texts_of = RetrievalExample.texts if args.symmetric else RetrievalExample.passages
    sampler = NoDuplicatesBatchSampler(examples, args.batch_size, seed=args.seed, texts_of=texts_of)
    evaluator = None
    if args.eval_split:
        dev = load_beir(args.data, args.eval_split, args.corpus)
        evaluator = RetrievalEvaluator(dev, towers, args.eval_dtype, args.cache_dir)
    trainer = Trainer(objective, sampler, config, evaluator=evaluator, metric="ndcg@10" if evaluator else None,
                      save=towers.save, out_dir=args.out)
    result = trainer.fit(resume=args.resume)
    summary.update(out=args.out, tied=towers.tied, steps=result.steps, seconds=result.seconds, bf16=result.bf16,
                   final_loss=round(result.losses[-1], 4) if result.losses else None, evals=result.evals, best=result.best)
    _print(summary, args.json)
    return 0


def mine(dataset: RetrievalSet, encoder: Any, args: argparse.Namespace) -> dict[str, list[str]]:
    """Hard negatives for the training queries, from the starting model and/or BM25."""
    from sbert_rag.retrieval import BM25Config, BM25Index
    from sbert_rag.training.data import document_text
    from sbert_rag.training.mining import MiningConfig, dense_document_scores, mine_hard_negatives
    from sbert_rag.training.towers import inference_copy

    margin = args.mining_margin if args.mining_margin >= 0 else None
    cfg = MiningConfig(num_negatives=args.hard_negatives, method=args.mining, rank_start=args.mining_range[0],
                       rank_end=args.mining_range[1], margin=margin, sampling=args.mining_sampling, seed=args.seed)
    qids = list(dataset.queries)
    doc_ids = list(dataset.corpus)
    scores = None
    if cfg.method.value != "bm25" or margin is not None:
        model = inference_copy(encoder, args.eval_dtype)
        ids, vectors, doc_of = corpus_embeddings(dataset, model, default_chunking(), args.cache_dir)
        column = {d: i for i, d in enumerate(doc_ids)}
        scores = dense_document_scores(model.encode_queries([dataset.queries[q] for q in qids]), vectors,
                                       [column[doc_of.get(i, i)] for i in ids], len(doc_ids))
    bm25 = None
    if cfg.method.value != "dense":
        texts = [document_text(d.title, d.text) for d in dataset.corpus.values()]
        bm25 = BM25Index.from_texts(doc_ids, texts, BM25Config())
    positives = {q: [d for d, g in rel.items() if g > 0] for q, rel in dataset.qrels.items()}
    return mine_hard_negatives(qids, [dataset.queries[q] for q in qids], positives, doc_ids, cfg,
                               dense_scores=scores, bm25=bm25)


def default_chunking() -> ChunkerConfig:
    """The chunking of ``sbert-rag eval retrieval`` by default: the model's length, 32 tokens overlap, titles."""
    return ChunkerConfig(max_tokens=None, overlap_tokens=32, include_title=True)


def corpus_embeddings(
    dataset: RetrievalSet, encoder: Any, chunking: ChunkerConfig | None, cache_dir: str | None
) -> tuple[list[str], Any, dict[str, str]]:
    """``eval_retrieval.embed_corpus``, cached under ``cache_dir`` (keyed by weights, corpus and chunking)."""
    from sbert_rag.commands.eval_retrieval import corpus_passages
    from sbert_rag.training.cache import cache_key, cached_matrix, model_fingerprint, texts_digest

    ids, passages, doc_of = corpus_passages(dataset, encoder, chunking)
    key = cache_key("corpus", model_fingerprint(encoder), texts_digest(passages), ids)

    def compute() -> tuple[Any, dict[str, Any]]:
        return encoder.encode_passages(passages), {"ids": ids, "doc_of": doc_of}

    vectors, meta = cached_matrix(cache_dir, key, compute)
    return list(meta["ids"]), np.asarray(vectors, dtype=np.float32), dict(meta["doc_of"])


class RetrievalEvaluator:
    """Dense and hybrid nDCG@10 (x100) on a split, exactly as ``sbert-rag eval retrieval`` computes them.

    Args:
        dataset: the evaluation split.
        towers: the towers under training (evaluated through an inference copy in ``dtype``).
        dtype: precision of the copy (``auto`` = what ``eval retrieval`` uses by default).
        cache_dir: corpus embedding cache (an untrained or frozen passage model hits it).
    """

    def __init__(self, dataset: RetrievalSet, towers: Any, dtype: str = "auto", cache_dir: str | None = None) -> None:
        self.dataset = dataset
        self.towers = towers
        self.dtype = dtype
        self.cache_dir = cache_dir
        self._lexical: Any = None

    def __call__(self) -> dict[str, float]:
        """Metrics of the current weights: ``ndcg@10``, ``recall@100``, ``mrr@10``, ``hybrid_ndcg@10``, ..."""
        from sbert_rag.commands.eval_retrieval import EVAL_DEPTH, bm25_rankings, dense_rankings, fuse_rankings, score_rankings
        from sbert_rag.encoding.dual import DualEncoder
        from sbert_rag.retrieval import BM25Config, FusionConfig
        from sbert_rag.training.towers import inference_copy

        query = inference_copy(self.towers.query.encoder, self.dtype)
        passage = query if self.towers.tied else inference_copy(self.towers.passage.encoder, self.dtype)
        encoder = query if passage is query else DualEncoder(query, passage)
        fusion = FusionConfig()
        depth = max(EVAL_DEPTH, fusion.depth)
        corpus = corpus_embeddings(self.dataset, passage, default_chunking(), self.cache_dir)
        dense, _ = dense_rankings(self.dataset, encoder, default_chunking(), depth, fusion, corpus=corpus)
        if self._lexical is None:
            self._lexical, _ = bm25_rankings(self.dataset, BM25Config(), depth)
        out = {k: v for k, v in score_rankings(dense, self.dataset).items() if k not in ("queries", "docs")}
        hybrid = score_rankings(fuse_rankings(dense, self._lexical, fusion), self.dataset)
        out.update({f"hybrid_{k}": v for k, v in hybrid.items() if k not in ("queries", "docs")})
        return out


def _print(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary))
        return
    print(json.dumps(summary, indent=2))


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - until wired into sbert_rag.cli
    """Run standalone: ``python -m sbert_rag.commands.train_retrieval --data SET --out DIR``."""
    parser = argparse.ArgumentParser(prog="sbert-rag train retrieval")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
