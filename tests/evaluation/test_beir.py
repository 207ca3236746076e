from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sbert_rag.errors import InvalidInputError
from sbert_rag.evaluation import Document, evaluate, load_beir

CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "Cats purr when content."},
    {"_id": "d2", "title": "", "text": "Dogs bark at strangers."},
    {"_id": "d3", "text": "Fish swim in schools."},
]
QUERIES = [{"_id": "q1", "text": "why do cats purr"}, {"_id": "q2", "text": "dog barking"}, {"_id": "q3", "text": "x"}]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n"


def write_set(folder: Path, corpus=CORPUS, queries=QUERIES, qrels=QRELS, split="dev", gz=False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(row) + "\n" for row in corpus)
    if gz:
        with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as handle:
            handle.write(lines)
    else:
        (folder / "corpus.jsonl").write_text(lines, encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / f"{split}.tsv").write_text(qrels, encoding="utf-8")
    return folder


@pytest.mark.parametrize("gz", [False, True])
def test_load_beir_reads_all_three_files(tmp_path: Path, gz: bool) -> None:
    data = load_beir(write_set(tmp_path / "set", gz=gz), split="dev")
    assert list(data.corpus) == ["d1", "d2", "d3"]
    assert data.corpus["d3"] == Document("d3", "Fish swim in schools.", "")
    assert data.queries == {"q1": "why do cats purr", "q2": "dog barking"}  # only judged queries
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}
    assert data.split == "dev"


def test_load_beir_separate_corpus_dir(tmp_path: Path) -> None:
    corpus_dir = write_set(tmp_path / "corpus")
    set_dir = write_set(tmp_path / "set")
    (set_dir / "corpus.jsonl").unlink()
    assert len(load_beir(set_dir, "dev", corpus_dir=corpus_dir).corpus) == 3
    with pytest.raises(InvalidInputError, match="no corpus.jsonl or corpus.jsonl.gz in .*pass --corpus"):
        load_beir(set_dir, "dev")


def test_load_beir_skips_blank_documents_and_keeps_their_judgments(tmp_path: Path) -> None:
    blank = [{"_id": "d4", "title": " ", "text": "\t\n "}, {"_id": "d5", "text": ""}]
    folder = write_set(tmp_path / "set", corpus=[CORPUS[0], *blank, *CORPUS[1:]], qrels=QRELS + "q2\td4\t1\n")
    data = load_beir(folder, "dev")
    assert list(data.corpus) == ["d1", "d2", "d3"]
    assert data.skipped_documents == ("d4", "d5")
    assert data.qrels["q2"] == {"d2": 2, "d4": 1}
    # the skipped document still counts as relevant: a perfect run over the corpus finds half of q2's
    metrics = evaluate({"q1": ["d1"], "q2": ["d2", "d3"]}, data.qrels, recall_k=10)
    assert metrics["recall@10"] == pytest.approx((1.0 + 0.5) / 2)
    assert metrics["ndcg@10"] < 1.0 and metrics["mrr@10"] == 1.0


def test_load_beir_title_only_document_is_kept(tmp_path: Path) -> None:
    data = load_beir(write_set(tmp_path / "set", corpus=[*CORPUS, {"_id": "d4", "title": "Owls", "text": " "}]), "dev")
    assert "d4" in data.corpus and data.skipped_documents == ()


def test_load_beir_blank_documents_errors(tmp_path: Path) -> None:
    blank = {"_id": "d1", "title": "", "text": " "}
    with pytest.raises(InvalidInputError, match="line 2: document id 'd1' appears twice"):
        load_beir(write_set(tmp_path / "a", corpus=[blank, CORPUS[0]]), "dev")
    with pytest.raises(InvalidInputError, match=r"holds no documents with a title or text \(1 blank ones skipped\)"):
        load_beir(write_set(tmp_path / "b", corpus=[blank], qrels="q1\td1\t1\n"), "dev")


def test_load_beir_qrels_document_not_in_corpus(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "set", qrels=QRELS + "q1\td9\t1\n")
    with pytest.raises(InvalidInputError, match="query 'q1' judges document 'd9', which is not in .*corpus.jsonl"):
        load_beir(folder, "dev")


def test_load_beir_qrels_query_not_in_queries(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "set", qrels=QRELS + "q7\td1\t1\n")
    with pytest.raises(InvalidInputError, match="query id 'q7' is not in"):
        load_beir(folder, "dev")


def test_load_beir_duplicate_ids(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "a", corpus=[*CORPUS, CORPUS[0]])
    with pytest.raises(InvalidInputError, match="line 4: document id 'd1' appears twice"):
        load_beir(folder, "dev")
    folder = write_set(tmp_path / "b", queries=[*QUERIES, QUERIES[1]])
    with pytest.raises(InvalidInputError, match="query id 'q2' appears twice"):
        load_beir(folder, "dev")


def test_load_beir_empty_corpus_and_bad_lines(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="holds no documents"):
        load_beir(write_set(tmp_path / "a", corpus=[]), "dev")
    folder = write_set(tmp_path / "b")
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "ok"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 2 is not valid JSON"):
        load_beir(folder, "dev")
    (folder / "corpus.jsonl").write_text('{"_id": "d1"}\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 1 has no 'text' field"):
        load_beir(folder, "dev")


def test_load_beir_missing_split_lists_the_ones_found(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "set")
    with pytest.raises(InvalidInputError, match="splits found: dev. Pass --split"):
        load_beir(folder, "test")


def test_load_beir_bad_qrels_rows(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="line 2: expected 3 tab-separated fields"):
        load_beir(write_set(tmp_path / "a", qrels="query-id\tcorpus-id\tscore\nq1 d1 1\n"), "dev")
    with pytest.raises(InvalidInputError, match="score 'high' is not a number"):
        load_beir(write_set(tmp_path / "b", qrels="q1\td1\thigh\n"), "dev")
    with pytest.raises(InvalidInputError, match=r"pair \('q1', 'd1'\) appears twice"):
        load_beir(write_set(tmp_path / "c", qrels="q1\td1\t1\nq1\td1\t1\n"), "dev")
