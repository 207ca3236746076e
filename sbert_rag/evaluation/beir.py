"""Load a retrieval set in BEIR layout: ``corpus.jsonl[.gz]``, ``queries.jsonl``, ``qrels/<split>.tsv``.

Owns reading and validating the three files: unique ids, every judged query and document present,
clear messages naming the file, line and fix. Keeps only the queries judged in the split. Skips
documents whose title and text are both blank (real BEIR sets hold a few): there is nothing to
embed or match, so they are left out of the corpus and their ids listed on the result. A judgment
of a skipped document is kept, so it still counts as relevant when scoring (``metrics.evaluate``
puts every judged document in the ideal ranking and recall's denominator); it just can never be
retrieved. Deliberately does not download sets (point it at a local folder) and does not score anything.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sbert_rag.errors import InvalidInputError
from sbert_rag.evaluation.jsonl import json_objects


@dataclass(frozen=True)
class Document:
    """One corpus entry.

    Attributes:
        id: the ``_id`` field.
        text: the ``text`` field.
        title: the ``title`` field, ``""`` when absent.
    """

    id: str
    text: str
    title: str = ""


@dataclass(frozen=True)
class RetrievalSet:
    """A loaded BEIR-style set, restricted to one split.

    Attributes:
        corpus: document id -> document, in file order.
        queries: query id -> text, only the queries judged in the split, in file order.
        qrels: query id -> {document id: graded relevance}; may name skipped documents.
        split: the qrels split name.
        skipped_documents: ids of the documents left out of ``corpus`` because their title and
            text are both empty or whitespace, in file order.
    """

    corpus: dict[str, Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    split: str
    skipped_documents: tuple[str, ...] = ()


def load_beir(set_dir: str | Path, split: str = "test", corpus_dir: str | Path | None = None) -> RetrievalSet:
    """Read a BEIR-layout folder.

    Args:
        set_dir: folder with ``queries.jsonl`` and ``qrels/<split>.tsv``.
        split: qrels file name without ``.tsv``.
        corpus_dir: folder with ``corpus.jsonl`` or ``corpus.jsonl.gz``; ``None`` means ``set_dir``.

    Returns:
        The corpus, the judged queries and their qrels, and the ids of the blank documents
        skipped (title and text both empty or whitespace). Judgments of skipped documents stay
        in ``qrels``: they count as relevant but can never be retrieved.

    Raises:
        InvalidInputError: a file is missing, a line is not valid JSON or lacks ``_id``/``text``, an
            id repeats, the corpus holds no document with text, or the qrels name a query or a
            document that is absent from the files (a skipped blank document is not absent).
    """
    set_path = Path(set_dir)
    corpus_path = _corpus_file(Path(corpus_dir) if corpus_dir is not None else set_path)
    qrels_path = set_path / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (set_path / "qrels").glob("*.tsv"))
        raise InvalidInputError(
            f"no qrels file {qrels_path}; splits found: {', '.join(found) or 'none'}. Pass --split with one of them"
        )
    queries_path = set_path / "queries.jsonl"
    if not queries_path.is_file():
        raise InvalidInputError(f"no queries file {queries_path}; a BEIR set needs queries.jsonl")

    corpus: dict[str, Document] = {}
    skipped: dict[str, None] = {}  # blank documents, kept apart so qrels may still name them
    for line_no, row in _read_jsonl(corpus_path):
        doc_id = _field(row, "_id", corpus_path, line_no)
        if doc_id in corpus or doc_id in skipped:
            raise InvalidInputError(f"{corpus_path} line {line_no}: document id {doc_id!r} appears twice")
        doc = Document(doc_id, _field(row, "text", corpus_path, line_no), str(row.get("title") or ""))
        if doc.text.strip() or doc.title.strip():
            corpus[doc_id] = doc
        else:
            skipped[doc_id] = None
    if not corpus:
        blank = f" ({len(skipped)} blank ones skipped)" if skipped else ""
        raise InvalidInputError(f"{corpus_path} holds no documents with a title or text{blank}; nothing to search")

    all_queries: dict[str, str] = {}
    for line_no, row in _read_jsonl(queries_path):
        qid = _field(row, "_id", queries_path, line_no)
        if qid in all_queries:
            raise InvalidInputError(f"{queries_path} line {line_no}: query id {qid!r} appears twice")
        all_queries[qid] = _field(row, "text", queries_path, line_no)

    qrels = _read_qrels(qrels_path)
    for qid, judged in qrels.items():
        if qid not in all_queries:
            raise InvalidInputError(f"{qrels_path}: query id {qid!r} is not in {queries_path}; fix or drop that row")
        for doc_id in judged:
            if doc_id not in corpus and doc_id not in skipped:
                raise InvalidInputError(
                    f"{qrels_path}: query {qid!r} judges document {doc_id!r}, which is not in {corpus_path}. "
                    f"Check --corpus points at the matching corpus, or drop that row"
                )
    queries = {qid: text for qid, text in all_queries.items() if qid in qrels}
    return RetrievalSet(corpus=corpus, queries=queries, qrels=qrels, split=split, skipped_documents=tuple(skipped))


def _corpus_file(folder: Path) -> Path:
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    raise InvalidInputError(f"no corpus.jsonl or corpus.jsonl.gz in {folder}; pass --corpus with the corpus folder")


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        yield from json_objects(handle, str(path))


def _field(row: dict[str, object], key: str, path: Path, line_no: int) -> str:
    value = row.get(key)
    if value is None:
        raise InvalidInputError(f"{path} line {line_no} has no {key!r} field")
    return str(value)


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip() or (line_no == 1 and parts[0] == "query-id"):
                continue
            if len(parts) != 3:
                raise InvalidInputError(
                    f"{path} line {line_no}: expected 3 tab-separated fields (query-id, corpus-id, score), "
                    f"got {len(parts)}"
                )
            qid, doc_id, score = parts
            try:
                relevance = int(float(score))
            except ValueError as err:
                raise InvalidInputError(f"{path} line {line_no}: score {score!r} is not a number") from err
            if doc_id in qrels.setdefault(qid, {}):
                raise InvalidInputError(f"{path} line {line_no}: pair ({qid!r}, {doc_id!r}) appears twice")
            qrels[qid][doc_id] = relevance
    if not qrels:
        raise InvalidInputError(f"{path} holds no judgments")
    return qrels
