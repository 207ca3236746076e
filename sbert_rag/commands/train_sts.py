"""``sbert-rag train sts --data FILE --out DIR``: fine-tune on scored pairs (STS Benchmark layout) with CoSENT.

Owns the STS fine-tuning pipeline: read scored pairs, train with CoSENT plus a stay-close term
(``losses.anchor_loss`` against the starting model; or the contrastive loss
when the scores are 0/1 labels), evaluate Spearman on a dev file after each epoch exactly as
``sbert-rag eval sts`` does (float32), and save the best model as a sentence-transformers folder.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from sbert_rag.commands.train_retrieval import _add_training_arguments, _print, length, training_config

# Defaults reach the STS-B target of docs/training.md (dev Spearman 86.72 -> >= 88).
DEFAULTS = {"batch_size": 16, "epochs": 1, "learning_rate": 2e-5, "scale": 20.0, "max_tokens": 128, "anchor_weight": 20.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag train sts``."""
    parser.add_argument("--data", required=True, metavar="FILE", help="STS Benchmark layout: score in column 5, sentences in 6 and 7")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the trained model (sentence-transformers format)")
    parser.add_argument("--model", default=None, help="starting model folder (default: packaged all-MiniLM-L6-v2)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    parser.add_argument("--eval", default=None, metavar="FILE", help="STS file to evaluate on after each epoch (e.g. sts-dev.csv)")
    parser.add_argument("--loss", choices=["cosent", "contrastive"], default="cosent",
                        help="cosent (graded scores) or contrastive (scores must be 0/1 labels) (default: cosent)")
    parser.add_argument("--scale", type=float, default=DEFAULTS["scale"], help="CoSENT inverse temperature (default: %(default)s)")
    parser.add_argument("--anchor-weight", type=float, default=DEFAULTS["anchor_weight"],
                        help="weight of the stay-close term: squared distance of each sentence's embedding from the "
                             "starting model's; 0 = plain CoSENT (default: %(default)s)")
    parser.add_argument("--margin", type=float, default=0.5, help="contrastive margin on cosine distance (default: %(default)s)")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help=f"sentence length in training (default: {DEFAULTS['max_tokens']} or the model's limit if lower)")
    _add_training_arguments(parser, DEFAULTS)


def run(args: argparse.Namespace) -> int:
    """Train, evaluate and save; print a summary."""
    from sbert_rag.encoding.text_encoder import TextEncoder
    from sbert_rag.training.data import ShuffledBatchSampler, load_sts_pairs
    from sbert_rag.training.objectives import PairObjective
    from sbert_rag.training.towers import Tower
    from sbert_rag.training.trainer import Trainer
    from sbert_rag.types import Role

    config = training_config(args)
    pairs = load_sts_pairs(args.data)
    encoder = TextEncoder.from_pretrained(args.model, device=args.device, dtype="float32")
    tower = Tower(encoder, Role.PASSAGE, length(args.max_tokens, DEFAULTS["max_tokens"], encoder))
    objective = PairObjective(tower, loss=args.loss, scale=args.scale, margin=args.margin,
                              anchor_weight=args.anchor_weight)
    objective.prepare(pairs)
    sampler = ShuffledBatchSampler(pairs, args.batch_size, seed=args.seed)
    evaluator = STSEvaluator(args.eval, encoder) if args.eval else None
    trainer = Trainer(objective, sampler, config, evaluator=evaluator,
                      metric="spearman_cosine" if evaluator else None, save=encoder.save, out_dir=args.out)
    result = trainer.fit(resume=args.resume)
    _print({"train_pairs": len(pairs), "out": args.out, "steps": result.steps, "seconds": result.seconds,
            "bf16": result.bf16, "final_loss": round(result.losses[-1], 4) if result.losses else None,
            "evals": result.evals, "best": result.best}, args.json)
    return 0


class STSEvaluator:
    """Spearman x100 of cosine against gold on an STS file, as ``sbert-rag eval sts`` computes it.

    Args:
        path: STS Benchmark layout file.
        encoder: the encoder to evaluate (its current weights, at each call).
    """

    def __init__(self, path: str, encoder: Any) -> None:
        from sbert_rag.evaluation.sts import read_sts

        self.pairs = read_sts(path)
        self.encoder = encoder

    def __call__(self) -> dict[str, float]:
        """``{"spearman_cosine": x}``."""
        from sbert_rag.evaluation.sts import evaluate_sts

        return {"spearman_cosine": float(evaluate_sts(self.pairs, self.encoder.encode)["spearman_cosine"])}


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - until wired into sbert_rag.cli
    """Run standalone: ``python -m sbert_rag.commands.train_sts --data FILE --out DIR``."""
    parser = argparse.ArgumentParser(prog="sbert-rag train sts")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
