"""Symbolic links to files: one file reachable by several paths is indexed once."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from sbert_rag.indexing.files import DUPLICATE_LINK, walk_folder

CAT = "The red cat sits in the big house. The cat eats fish from a small blue car.\n"
DOG = "A green dog runs to the tree by the house. The dog is big and the bird is small.\n"
BIRD = "The bird sits on the car with a long text. Hello world, said the bird.\n"


def _folder(tmp_path: Path) -> Path:
    """notes/cat.txt with two links to it; two links to one outside file; one link to another."""
    root, outside = tmp_path / "corpus", tmp_path / "outside"
    (root / "notes").mkdir(parents=True)
    outside.mkdir()
    (root / "notes" / "cat.txt").write_text(CAT, encoding="utf-8")
    (outside / "dog.md").write_text(DOG, encoding="utf-8")
    (outside / "bird.txt").write_text(BIRD, encoding="utf-8")
    os.symlink(Path("notes") / "cat.txt", root / "a-cat-link.txt")  # sorts before its target
    os.symlink(root / "notes" / "cat.txt", root / "notes" / "z-cat-link.txt")
    os.symlink(outside / "dog.md", root / "dog-1.md")
    os.symlink(outside / "dog.md", root / "dog-2.md")
    os.symlink(outside / "bird.txt", root / "bird.txt")
    return root


def test_walk_keeps_one_path_per_file(tmp_path: Path) -> None:
    walk = walk_folder(_folder(tmp_path), images=False)
    assert [f.rel for f in walk.files] == ["bird.txt", "dog-1.md", "notes/cat.txt"]
    assert walk.ignored == Counter({DUPLICATE_LINK: 3})


def test_walk_keeps_a_broken_link_and_links_to_distinct_files(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "one.txt").write_text(CAT, encoding="utf-8")
    (root / "two.txt").write_text(CAT, encoding="utf-8")  # same bytes, another file: both kept
    os.symlink("two.txt", root / "three.txt")
    os.symlink("missing.txt", root / "broken.txt")
    walk = walk_folder(root, images=False)
    assert [f.rel for f in walk.files] == ["broken.txt", "one.txt", "two.txt"]
    assert walk.ignored == Counter({DUPLICATE_LINK: 1})


def test_index_stores_a_linked_file_once(cli, tmp_path: Path, tiny_models, store_records) -> None:
    root = _folder(tmp_path)
    store = tmp_path / "store"
    options = ("--store", str(store), "--model", str(tiny_models[0]), "--dtype", "float32", "--quiet")
    code, out, err = cli("index", str(root), *options, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["files"] == 3 and summary["ignored"] == {DUPLICATE_LINK: 3}

    records = store_records(store).values()
    by_file = Counter(r["file"] for r in records)
    assert set(by_file) == {"bird.txt", "dog-1.md", "notes/cat.txt"}
    texts = [r["document"] for r in records]
    assert len(texts) == len(set(texts))  # no chunk stored twice

    code, out, _ = cli("search", "the red cat eats fish", "--store", str(store), "--json")
    hits = json.loads(out)
    assert code == 0 and hits
    assert len({h["text"] for h in hits}) == len(hits)  # every hit once
    assert sum(h["file"] == "notes/cat.txt" for h in hits) == by_file["notes/cat.txt"]

    code, out, _ = cli("index", str(root), *options)
    assert code == 0 and f"3 {DUPLICATE_LINK}" in out  # the terminal summary says it once
