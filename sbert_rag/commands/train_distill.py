"""``sbert-rag train distill --teacher M --layers N --data FILE --out DIR``: a smaller, faster student.

Owns the distillation pipeline: build a student from ``N`` of the teacher's layers, embed the
training texts (one per line) with the teacher (cached under ``--cache-dir``), train the student
with MSE to reproduce those vectors, and report on an STS dev file the quality kept (student over
teacher Spearman, both float32 as ``sbert-rag eval sts``) and the encode speed-up, both models
timed in the same run on the same texts and precision. Saves the best student as a
sentence-transformers folder.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from sbert_rag.commands.train_retrieval import _add_training_arguments, _print, length, training_config

# Defaults reach the distillation target of docs/training.md (>= 95% of the teacher, >= 1.8x).
DEFAULTS = {"batch_size": 64, "epochs": 1, "learning_rate": 1e-4, "layers": 3, "max_tokens": 128}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sbert-rag train distill``."""
    parser.add_argument("--teacher", default=None, help="teacher model folder (default: packaged all-MiniLM-L6-v2)")
    parser.add_argument("--layers", type=int, default=DEFAULTS["layers"], help="student layers, spread over the teacher's (default: %(default)s)")
    parser.add_argument("--layer-indices", type=int, nargs="+", default=None, help="exact teacher layers to keep (overrides --layers)")
    parser.add_argument("--data", required=True, metavar="FILE", help="training texts, one per line")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the student (sentence-transformers format)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    parser.add_argument("--eval-sts", default=None, metavar="FILE", help="STS file for quality kept and speed (e.g. sts-dev.csv)")
    parser.add_argument("--speed-dtype", default="auto", help="precision both models are timed in (default: auto)")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help=f"text length in training (default: {DEFAULTS['max_tokens']} or the model's limit if lower)")
    _add_training_arguments(parser, DEFAULTS)


def run(args: argparse.Namespace) -> int:
    """Distil, evaluate, time and save; print a summary."""
    from sbert_rag.commands.train_sts import STSEvaluator
    from sbert_rag.encoding.text_encoder import TextEncoder
    from sbert_rag.training.data import ShuffledBatchSampler, read_texts
    from sbert_rag.training.distill import encode_seconds, layer_subset_student, teacher_embeddings
    from sbert_rag.training.objectives import DistillObjective
    from sbert_rag.training.towers import Tower, inference_copy
    from sbert_rag.training.trainer import Trainer
    from sbert_rag.types import Role

    config = training_config(args)
    texts = read_texts(args.data)
    teacher = TextEncoder.from_pretrained(args.teacher, device=args.device, dtype="float32")
    targets = teacher_embeddings(inference_copy(teacher, "auto"), texts, args.cache_dir)
    student = layer_subset_student(teacher, args.layer_indices or args.layers)
    objective = DistillObjective(Tower(student, Role.PASSAGE, length(args.max_tokens, DEFAULTS["max_tokens"], student)), texts, targets)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        objective.prepare()
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    sampler = ShuffledBatchSampler(list(range(len(texts))), args.batch_size, seed=args.seed)
    evaluator = STSEvaluator(args.eval_sts, student) if args.eval_sts else None
    trainer = Trainer(objective, sampler, config, evaluator=evaluator,
                      metric="spearman_cosine" if evaluator else None, save=student.save, out_dir=args.out)
    result = trainer.fit(resume=args.resume)
    summary: dict[str, Any] = {
        "texts": len(texts), "teacher_layers": teacher.module.transformer.config.num_hidden_layers,
        "student_layers": student.module.transformer.config.num_hidden_layers, "out": args.out,
        "steps": result.steps, "seconds": result.seconds, "bf16": result.bf16, "evals": result.evals, "best": result.best,
    }
    if evaluator is not None and result.best is not None:
        teacher_score = STSEvaluator(args.eval_sts, teacher)()["spearman_cosine"]
        kept = result.best["spearman_cosine"] / teacher_score
        best_student = TextEncoder.from_pretrained(args.out, device=args.device, dtype=args.speed_dtype)
        fast_teacher = TextEncoder.from_pretrained(args.teacher, device=args.device, dtype=args.speed_dtype)
        speed_texts = list(dict.fromkeys(evaluator.pairs.first + evaluator.pairs.second))
        t_sec, s_sec = encode_seconds([fast_teacher, best_student], speed_texts)
        summary.update(teacher_spearman=teacher_score, student_spearman=result.best["spearman_cosine"],
                       quality_kept=round(kept, 4), speed_texts=len(speed_texts), speed_dtype=fast_teacher.dtype.value,
                       teacher_seconds=round(t_sec, 2), student_seconds=round(s_sec, 2), speedup=round(t_sec / s_sec, 2))
    _print(summary, args.json)
    return 0


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - until wired into sbert_rag.cli
    """Run standalone: ``python -m sbert_rag.commands.train_distill --data FILE --out DIR``."""
    parser = argparse.ArgumentParser(prog="sbert-rag train distill")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
