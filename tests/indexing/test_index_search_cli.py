"""``sbert-rag index``, ``search`` and ``info`` end to end, in-process, on the packaged default model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _index(cli, corpus: Path, store: Path, *extra: str) -> dict:
    code, out, err = cli("index", str(corpus), "--store", str(store), "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def test_index_then_search_finds_the_right_file_and_span(cli, corpus: Path, tmp_path: Path, pdf_lines) -> None:
    store = tmp_path / "store"
    summary = _index(cli, corpus, store)
    assert summary["files"] == 8 and summary["written"] == 8 and summary["skipped"] == []
    assert summary["chunks_added"] == summary["totals"]["chunks"] >= 8
    assert summary["totals"]["files"] == 8

    code, out, _ = cli("search", "how do I stop silent truncation", "--store", str(store), "--json")
    assert code == 0
    hits = json.loads(out)
    assert hits[0]["file"] == "silent-truncation.md" and hits[0]["kind"] == "text"
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    source = (corpus / "silent-truncation.md").read_text(encoding="utf-8")
    assert source[hits[0]["start"]:hits[0]["end"]] == hits[0]["text"]
    assert {"rank", "score", "file", "start", "end", "kind", "snippet", "text"} <= set(hits[0])

    code, out, _ = cli("search", "inverter alternating current", "--store", str(store), "--k", "1", "--json")
    (pdf_hit,) = json.loads(out)
    assert pdf_hit["file"] == "reports/solar.pdf" and pdf_hit["page"] == 1
    assert pdf_lines[0] in pdf_hit["text"]

    code, out, _ = cli("search", "waggle dance", "--store", str(store), "--k", "2")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith(" 1. ") and "honeybee-dance.txt [" in first and out.splitlines()[1].startswith("    ")


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_search_modes(cli, corpus: Path, tmp_path: Path, mode: str) -> None:
    store = tmp_path / "store"
    _index(cli, corpus, store)
    code, out, _ = cli("search", "sourdough starter hooch", "--store", str(store), "--mode", mode, "--json")
    hits = json.loads(out)
    assert code == 0 and hits[0]["file"] == "sourdough-starter.md"
    assert all(h["source"] == ("dense" if mode == "dense" else "bm25") for h in hits)


def test_html_is_indexed_as_visible_text_with_its_title(cli, corpus: Path, tmp_path: Path, store_records) -> None:
    store = tmp_path / "store"
    _index(cli, corpus, store)
    tidal = [r for r in store_records(store).values() if r["file"] == "tidal-power.html"]
    text = " ".join(r["document"] for r in tidal)
    assert "Costs & concerns" in text and "analytics" not in text and "font-family" not in text
    assert tidal[0]["title"] == "Tidal power: electricity from the moon's pull"


def test_info_reports_model_counts_and_settings(cli, corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    summary = _index(cli, corpus, store)
    code, out, _ = cli("info", "--store", str(store), "--json")
    info = json.loads(out)
    assert code == 0
    assert info["files"] == 8 and info["chunks"] == summary["totals"]["chunks"] and info["images"] == 0
    assert info["model"] == "packaged:all-MiniLM-L6-v2" and info["dims"] == 384
    assert info["settings"]["chunking"] == {"max_tokens": 256, "overlap_tokens": 32, "include_title": True}
    assert info["root"] == str(corpus.resolve()) and info["bm25_sidecar"] == "current"
    code, out, _ = cli("info", "--store", str(store))
    assert "packaged:all-MiniLM-L6-v2 (dim 384" in out and "8 files" in out


def test_reindex_unchanged_folder_adds_nothing_and_loads_no_model(
    cli, corpus: Path, tmp_path: Path, request: pytest.FixtureRequest, store_records
) -> None:
    store = tmp_path / "store"
    _index(cli, corpus, store)
    before = store_records(store)
    request.getfixturevalue("no_model_load")
    again = _index(cli, corpus, store)
    assert again["unchanged"] == 8 and again["written"] == 0
    assert again["chunks_added"] == again["chunks_removed"] == 0
    assert store_records(store) == before


def test_modified_file_replaces_only_its_chunks(cli, corpus: Path, tmp_path: Path, store_records) -> None:
    store = tmp_path / "store"
    _index(cli, corpus, store)
    before = store_records(store)
    night = corpus / "night-sky.txt"
    night.write_text(night.read_text(encoding="utf-8").replace("Bortle scale", "Bortle darkness scale")
                     + "\nSaturn's rings are visible in any small telescope.\n", encoding="utf-8")
    summary = _index(cli, corpus, store)
    assert summary["written"] == 1 and summary["unchanged"] == 7
    after = store_records(store)
    old = {i for i, r in before.items() if r["file"] == "night-sky.txt"}
    new = {i for i, r in after.items() if r["file"] == "night-sky.txt"}
    assert old and new and not old & new
    assert summary["chunks_removed"] == len(old) and summary["chunks_added"] == len(new)
    others = {i: r for i, r in before.items() if r["file"] != "night-sky.txt"}
    assert {i: r for i, r in after.items() if r["file"] != "night-sky.txt"} == others
    code, out, _ = cli("search", "Saturn rings telescope", "--store", str(store), "--k", "1", "--json")
    assert code == 0 and json.loads(out)[0]["file"] == "night-sky.txt"


def test_deleted_file_stays_until_prune(cli, corpus: Path, tmp_path: Path, store_records) -> None:
    store = tmp_path / "store"
    _index(cli, corpus, store)
    (corpus / "git-bisect.md").unlink()
    kept = _index(cli, corpus, store, "--quiet")
    assert kept["missing_files"] == ["git-bisect.md"] and kept["totals"]["files"] == 8
    code, out, _ = cli("index", str(corpus), "--store", str(store), "--quiet")
    assert code == 0 and "--prune removes their records" in out
    pruned = _index(cli, corpus, store, "--prune")
    assert pruned["pruned_files"] == ["git-bisect.md"] and pruned["chunks_removed"] >= 1
    assert pruned["totals"]["files"] == 7
    assert all(r["file"] != "git-bisect.md" for r in store_records(store).values())
    code, out, _ = cli("search", "git bisect", "--store", str(store), "--json")
    assert all(h["file"] != "git-bisect.md" for h in json.loads(out))


def test_search_and_info_refuse_a_folder_without_a_store(cli, tmp_path: Path) -> None:
    code, _, err = cli("search", "anything", "--store", str(tmp_path / "nowhere"))
    assert code == 2 and "no sbert-rag store at" in err and "(options: --store)" in err
    code, _, err = cli("info", "--store", str(tmp_path / "nowhere"))
    assert code == 2 and "store.json is missing" in err


def test_index_refuses_a_folder_that_is_not_a_store(cli, corpus: Path, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.docx").write_text("mine", encoding="utf-8")
    code, _, err = cli("index", str(corpus), "--store", str(busy))
    assert code == 2 and "is not an sbert-rag store" in err and "thesis.docx" in err
    assert sorted(p.name for p in busy.iterdir()) == ["index.lock", "thesis.docx"]


def test_index_refuses_another_folder_unless_moved(cli, corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    _index(cli, corpus, store)
    moved = tmp_path / "moved"
    corpus.rename(moved)
    code, _, err = cli("index", str(moved), "--store", str(store))
    assert code == 2 and str(corpus.resolve()) in err and "--moved" in err
    summary = _index(cli, moved, store, "--moved")
    assert summary["unchanged"] == 8 and summary["chunks_added"] == 0


def test_bad_arguments_are_one_line_errors(cli, corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    code, _, err = cli("index", str(tmp_path / "missing"), "--store", str(store))
    assert code == 2 and "is not a folder" in err
    _index(cli, corpus, store)
    code, _, err = cli("search", "   ", "--store", str(store))
    assert code == 2 and "empty or blank" in err
    code, _, err = cli("search", "bees", "--store", str(store), "--k", "0")
    assert code == 2 and "k must be an integer >= 1" in err
    code, _, err = cli("index", str(corpus), "--store", str(store), "--overlap-tokens", "10")
    assert code == 2 and "overlap_tokens: 32 -> 10" in err
