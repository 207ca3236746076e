"""Write the distillation training texts: unique sentences of STS-B train and SICK train, one per line.

Only training splits are read (STS-B dev stays unseen: it is the quality check of the student).

    python benchmarks/distill_texts.py --out distill_texts.txt
    sbert-rag train distill --data distill_texts.txt --eval-sts ../shared/data/stsbenchmark/sts-dev.csv --out student
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from sbert_rag.evaluation.sts import read_sts

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def sick_sentences(path: Path) -> list[str]:
    """sentence_A and sentence_B of every row of a SICK file (tab-separated, with a header)."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [row[key] for row in rows for key in ("sentence_A", "sentence_B")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="text file to write")
    parser.add_argument("--data", default=str(DATA), help="the shared data folder (default: ../shared/data)")
    args = parser.parse_args(argv)
    data = Path(args.data)
    sts = read_sts(data / "stsbenchmark" / "sts-train.csv")
    texts = [*sts.first, *sts.second, *sick_sentences(data / "sick" / "SICK_train.txt")]
    unique = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    Path(args.out).write_text("\n".join(unique) + "\n", encoding="utf-8")
    print(f"{len(unique)} texts -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
