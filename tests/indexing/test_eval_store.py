"""``sbert-rag eval retrieval --store``: a store built by ``sbert-rag index`` scores like the in-memory path."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "Cats purr when they are content. A purring cat is often a happy cat."},
    {"_id": "d2", "title": "Dogs", "text": "Dogs bark at strangers. Barking warns the pack."},
    {"_id": "d3", "title": "Fish", "text": "Fish swim in schools. Schools of fish confuse predators."},
    {"_id": "d4", "title": "Birds", "text": "Birds sing at dawn. The dawn chorus marks territory."},
    {"_id": "d5", "title": "Bees", "text": "Bees dance to tell the hive where the flowers are."},
]
QUERIES = [{"_id": "q1", "text": "why do cats purr"}, {"_id": "q2", "text": "dogs barking at people"},
           {"_id": "q3", "text": "groups of swimming fish"}, {"_id": "q4", "text": "morning bird song"},
           {"_id": "q5", "text": "how do bees communicate"}]


def _write_set(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUERIES), encoding="utf-8")
    rows = "".join(f"q{i}\td{i}\t1\n" for i in range(1, 6))
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows, encoding="utf-8")
    return folder


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_store_path_scores_like_the_in_memory_path(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   mode: str) -> None:
    set_dir = _write_set(tmp_path / "set")
    files = tmp_path / "files"
    monkeypatch.setattr(sys, "argv", ["beir_as_files.py", str(set_dir), str(files)])
    runpy.run_path(str(ROOT / "benchmarks" / "beir_as_files.py"), run_name="__main__")
    assert sorted(p.name for p in files.iterdir()) == [f"d{i}.html" for i in range(1, 6)]
    store = tmp_path / "store"
    code, _, err = cli("index", str(files), "--store", str(store), "--dtype", "float32", "--quiet")
    assert code == 0, err
    code, out, err = cli("eval", "retrieval", str(set_dir), "--split", "dev", "--mode", mode, "--json")
    assert code == 0, err
    memory = json.loads(out)
    code, out, err = cli("eval", "retrieval", str(set_dir), "--split", "dev", "--mode", mode, "--json",
                         "--store", str(store))
    assert code == 0, err
    stored = json.loads(out)
    assert stored["chunks"] == 5 and stored["files"] == 5
    assert stored["ndcg@10"] == pytest.approx(memory["ndcg@10"], abs=0.01)
    assert stored["ndcg@10"] > 50
