"""``sbert_rag.Store``: the engine under the CLI and the framework adapters.

Exact and repeatable search, a lone keyword match ranked first in hybrid mode, the CLI and the
Python API giving the same ranked ids, texts added without a folder, filters, deletes, and the
named errors of bad input.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sbert_rag import ConfigError, EncoderConfig, InvalidInputError, Store
from sbert_rag.indexing.store import IndexStore

QUERY = "how do I stop silent truncation"


@pytest.fixture()
def built(cli, corpus: Path, tmp_path: Path) -> Path:
    store = tmp_path / "store"
    code, _, err = cli("index", str(corpus), "--store", str(store), "--quiet")
    assert code == 0, err
    return store


def test_cli_and_store_give_the_same_ranked_ids(cli, built: Path) -> None:
    store = Store.open(built)
    for mode in ("hybrid", "dense", "bm25"):
        code, out, err = cli("search", QUERY, "--store", str(built), "--k", "10", "--mode", mode, "--json")
        assert code == 0, err
        assert [h["id"] for h in json.loads(out)] == [h.id for h in store.search(QUERY, k=10, mode=mode)]


def test_dense_search_is_exact_and_repeatable(built: Path) -> None:
    store = Store.open(built)
    rows = IndexStore.open(built, must_exist=True).read("text", ["embeddings"])
    matrix = np.asarray(rows.embeddings, dtype=np.float32)  # (n, dim), unit rows
    query = store.models.text.encode_queries([QUERY])[0]
    brute = [rows.ids[i] for i in np.argsort(-(matrix @ query), kind="stable")]
    hits = store.search(QUERY, k=len(brute), mode="dense")
    assert [h.id for h in hits] == brute
    first = [h.id for h in store.search(QUERY, k=10)]
    assert all([h.id for h in Store.open(built).search(QUERY, k=10)] == first for _ in range(20))
    assert [h.id for h in store.search(QUERY, k=2)] == first[:2]


def test_a_word_in_one_chunk_only_is_hybrid_rank_one(built: Path) -> None:
    store = Store.open(built)
    # "Photovoltaic" occurs in the PDF only: BM25 has one hit, which must keep its weight
    bm25 = store.search("photovoltaic", k=10, mode="bm25")
    assert len(bm25) == 1 and bm25[0].file == "reports/solar.pdf"
    hybrid = store.search("photovoltaic", k=10, mode="hybrid")
    assert hybrid[0].id == bm25[0].id
    assert hybrid[0].page == 1


def test_sidecars_are_current_after_an_index_run(built: Path) -> None:
    info = Store.open(built).info()
    assert info["dense_sidecar"] == "current" and info["bm25_sidecar"] == "current"


def test_add_texts_get_delete_and_where(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "api", create=True)
    ids = store.add_texts(
        ["Bees dance to tell the hive where flowers are.", "Paris is the capital of France."],
        metadatas=[{"source": "bees.txt", "topic": "biology"}, {"source": "paris.txt", "topic": "geography"}],
    )
    assert len(set(ids)) == 2
    again = store.add_texts(["Paris is the capital of France."], [{"source": "paris.txt", "topic": "geography"}])
    assert again == [ids[1]]  # content id: stored once
    assert store.info()["chunks"] == 2
    hits = store.search("capital of France", k=2)
    assert hits[0].id == ids[1] and hits[0].file == "paris.txt" and hits[0].metadata["topic"] == "geography"
    only_bees = store.search("capital of France", k=2, where={"topic": "biology"})
    assert [h.id for h in only_bees] == [ids[0]]
    assert [h.text for h in store.get([ids[1], "missing", ids[0]])] == [
        "Paris is the capital of France.", "Bees dance to tell the hive where flowers are."]
    store.delete([ids[0]])
    assert [h.id for h in store.search("bees", k=5, mode="dense")] == [ids[1]]
    assert Store.open(tmp_path / "api").info()["dense_sidecar"] == "current"


def test_add_texts_with_ids_overwrites(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "api", create=True)
    store.add_texts(["first version"], ids=["doc-1"])
    store.add_texts(["second version", "no id given"], metadatas=[{"title": "T", "page": 3}, None],
                    ids=["doc-1", None])
    hit = store.get(["doc-1"])[0]
    assert (hit.text, hit.title, hit.page) == ("second version", "T", 3)
    assert store.ids_where({"title": "T"}) == ["doc-1"] and store.dim == 384


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"query": "", "k": 3}, "empty or blank"),
        ({"query": "x", "k": 0}, "k must be an integer >= 1"),
        ({"query": "x", "k": 3, "mode": "fuzzy"}, "mode must be one of hybrid, dense, bm25"),
    ],
)
def test_bad_search_input_is_named(built: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        Store.open(built).search(**kwargs)


def test_bad_add_input_is_named(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "api", create=True)
    with pytest.raises(InvalidInputError, match="text 1 is empty"):
        store.add_texts(["ok", "  "])
    with pytest.raises(InvalidInputError, match="store's own key"):
        store.add_texts(["ok"], metadatas=[{"file": "x"}])
    with pytest.raises(InvalidInputError, match="'page' an integer"):
        store.add_texts(["ok"], metadatas=[{"page": "2"}])
    with pytest.raises(InvalidInputError, match="values must be str, int, float or bool"):
        store.add_texts(["ok"], metadatas=[{"tags": ["a"]}])
    with pytest.raises(InvalidInputError, match="one of each per text"):
        store.add_texts(["ok"], ids=["a", "b"])
    assert not (tmp_path / "api" / "store.json").exists()  # nothing was written
    assert store.search("anything", k=3) == [] and store.get(["x"]) == []  # a new, empty store


def test_open_refuses_a_missing_store_and_another_model(built: Path, tmp_path: Path, tiny_models) -> None:
    with pytest.raises(ConfigError, match="no sbert-rag store"):
        Store.open(tmp_path / "nothing-here")
    with pytest.raises(ConfigError, match="was built with model 'packaged:all-MiniLM-L6-v2'") as err:
        Store.open(built, model=str(tiny_models[0]))
    assert str(tiny_models[0].resolve()) in str(err.value)


def test_store_keeps_the_recorded_config(tiny_models: tuple[Path, Path], tmp_path: Path) -> None:
    plain, _ = tiny_models
    config = EncoderConfig(model=str(plain), device="cpu", dtype="float32", query_prompt="search: ")
    store = Store.open(tmp_path / "s", create=True, config=config)
    store.add_texts(["the cat sits on the tree", "a dog runs to the car"])
    reopened = Store.open(tmp_path / "s")  # no config: the recorded one, prompt included
    assert reopened.info()["encoder"]["query_prompt"] == "search: "
    assert reopened.models.text.config.query_prompt == "search: "
    assert [h.id for h in reopened.search("cat", k=2, mode="dense")] == [h.id for h in store.search("cat", k=2, mode="dense")]
    with pytest.raises(ConfigError, match="query_prompt: 'search: ' -> ''"):
        Store.open(tmp_path / "s", config=config.replace(query_prompt="")).search("cat", k=1, mode="dense")


def test_a_store_at_rest_is_searched_without_chroma(built: Path, child) -> None:
    import subprocess

    state = json.loads((built / "state.json").read_text())
    assert isinstance(state["text"], str)  # the last write finished: at rest
    argv, env = child("search", QUERY, "--store", str(built), "--k", "3", "--json")
    code = ("import runpy, sys; sys.argv = ['sbert-rag', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('sbert_rag.cli', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('CHROMA' if 'chromadb' in sys.modules else 'NO-CHROMA', file=sys.stderr)")
    out = subprocess.run([argv[0], "-c", code, *argv[3:]], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().endswith("NO-CHROMA")
    hits = json.loads(out.stdout)
    assert hits[0]["file"] == "silent-truncation.md" and hits[0]["text"]
    # a write in progress (or killed) marks the kind as written: searches then read Chroma, same answer
    (built / "state.json").write_text(json.dumps({**state, "text": None}))
    assert [h.id for h in Store.open(built).search(QUERY, k=3)] == [h["id"] for h in hits]


def test_threads_share_one_store(built: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = Store.open(built)
    (built / "state.json").unlink()  # not at rest: every search goes through Chroma sessions
    expected = [h.id for h in store.search(QUERY, k=5)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: [h.id for h in store.search(QUERY, k=5)], range(12)))
    assert all(r == expected for r in results)
