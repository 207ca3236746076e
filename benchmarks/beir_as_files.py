"""Write a BEIR corpus as one HTML file per document, to index with ``sbert-rag index``.

Each document becomes ``OUT/<doc id>.html`` with its title in ``<title>`` (the indexer prepends it
to every chunk, as the in-memory evaluation does) and its text in the body. Documents whose
title and text are both blank are left out, as ``load_beir`` skips them. Then:

    python benchmarks/beir_as_files.py ../shared/data/scifact /tmp/scifact-files
    sbert-rag index /tmp/scifact-files --store /tmp/scifact-store --dtype float32 --quiet
    sbert-rag eval retrieval ../shared/data/scifact --split dev --mode hybrid --store /tmp/scifact-store --json
"""

from __future__ import annotations

import argparse
import html
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sbert_rag.evaluation import load_beir

_SAFE_ID = re.compile(r"\A[A-Za-z0-9._-]+\Z")


def write_corpus(docs: Iterable[Any], out: Path) -> int:
    """Write each document (``id``, ``title``, ``text``) as ``out/<id>.html``; returns how many."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for doc in docs:
        if not _SAFE_ID.match(doc.id) or doc.id.startswith("."):
            raise SystemExit(f"document id {doc.id!r} cannot be a file name here; map ids to safe names first")
        body = html.escape(doc.text)
        page = f"<html><head><title>{html.escape(doc.title)}</title></head><body><p>{body}</p></body></html>\n"
        (out / f"{doc.id}.html").write_text(page, encoding="utf-8")
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set_dir", help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    parser.add_argument("out", help="folder to write (created)")
    parser.add_argument("--split", default="dev", help="any split present; only the corpus is written")
    args = parser.parse_args()
    dataset = load_beir(args.set_dir, args.split)
    write_corpus(dataset.corpus.values(), Path(args.out))
    print(f"wrote {len(dataset.corpus)} files to {args.out}")


if __name__ == "__main__":
    main()
