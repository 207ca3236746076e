"""A store's Chroma collections: the recorded function, ``open_collection`` on a store, fresh processes.

``sbert_rag.Store`` is the one store; Chroma is how its records are kept. These tests check what a
Chroma user sees of a store built by ``sbert-rag index``: the function recorded in the
collection's config, ``query_texts`` ranking as the store's exact dense search does, reopening
in a fresh process with and without ``import sbert_rag_chroma``, stores written before
collections recorded a function, and the store behaviours the old Chroma-only store had
(content-hash ids, the BM25 sidecar reused by the next process, search modes, bad input).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from sbert_rag_chroma import SbertRagEmbeddingFunction, open_collection

import sbert_rag
from sbert_rag import Store
from sbert_rag.indexing import content_id

CORPUS = {
    "cat.txt": "the cat sits on the tree",
    "dog.txt": "a dog runs in the house",
    "bird.txt": "red bird with blue fish",
    "car.txt": "the big green car",
    "house.txt": "small house with a blue car",
    "hello.txt": "hello world is a short text",
}
QUERIES = ["the cat", "blue car", "a dog in a house", "green fish"]
NOT_FOUND = "ValueError: Embedding function sbert_rag not found. Add @register_embedding_function decorator"


@pytest.fixture(autouse=True)
def _fresh_chroma_clients() -> Iterator[None]:
    from chromadb.api.client import SharedSystemClient

    yield
    SharedSystemClient.clear_system_cache()


@pytest.fixture(scope="module")
def tiny_model(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny BERT saved as a sentence-transformers folder, with a query prompt (queries != passages)."""
    from sbert_rag import TextEncoder

    encoder = TextEncoder.from_pretrained(
        tiny_bert_dir, pooling="mean", normalize=True, device="cpu", dtype="float32", query_prompt="query "
    )
    return Path(encoder.save(tmp_path_factory.mktemp("models") / "tiny")).resolve()


def _write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in CORPUS.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def built(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store built by ``sbert-rag index`` over CORPUS with the tiny model (one chunk a file)."""
    from sbert_rag.cli import main

    root = tmp_path_factory.mktemp("indexed")
    store = root / "store"
    corpus = _write_corpus(root / "corpus")
    assert main(["index", str(corpus), "--store", str(store), "--model", str(tiny_model), "--quiet"]) == 0
    return store


def _client(store: Path):  # noqa: ANN202
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(str(store / "chroma"), settings=Settings(anonymized_telemetry=False))


def _dense_ids(store: Path | Store, query: str, k: int) -> list[str]:
    store = store if isinstance(store, Store) else Store.open(store)
    return [h.id for h in store.search(query, k=k, mode="dense")]


def test_index_records_the_store_function_in_the_collection_config(built: Path, tiny_model: Path) -> None:
    config = _client(built).get_collection("chunks").configuration_json
    assert config["hnsw"]["space"] == "cosine"
    persisted = config["embedding_function"]
    assert persisted["type"] == "known" and persisted["name"] == "sbert_rag"
    assert persisted["config"]["model"] == str(tiny_model) and persisted["config"]["query_prompt"] == "query "
    # the JSON the function itself gives: the store's recorded model identity plus the overflow policy
    recorded = Store.open(built).info()["model_config"]
    assert persisted["config"] == SbertRagEmbeddingFunction.for_store(recorded).get_config()
    assert persisted["config"] == {**{k: recorded[k] for k in persisted["config"] if k != "overflow"},
                                   "overflow": "warn"}


@pytest.mark.parametrize("how", ["path", "str", "store"])
def test_open_collection_query_texts_rank_as_dense_search(built: Path, how: str) -> None:
    store = Store.open(built)
    col = open_collection({"path": built, "str": str(built), "store": store}[how])
    assert col.count() == len(CORPUS)
    for query in QUERIES:
        got = col.query(query_texts=[query], n_results=3, include=["distances"])
        hits = store.search(query, k=3, mode="dense")
        assert got["ids"][0] == [h.id for h in hits]  # HNSW over six vectors is exact
        np.testing.assert_allclose(got["distances"][0], [1.0 - h.score for h in hits], atol=1e-4)


def test_open_collection_refuses_another_model_and_what_is_not_a_store(
    built: Path, tiny_encoder, tmp_path: Path
) -> None:
    with pytest.raises(sbert_rag.ConfigError, match="query_prompt: 'query ' -> ''") as err:
        open_collection(built, embedding_function=SbertRagEmbeddingFunction(tiny_encoder))
    assert "collection 'chunks' of store" in str(err.value)
    with pytest.raises(sbert_rag.ConfigError, match="no sbert-rag store"):
        open_collection(tmp_path / "nothing")
    with pytest.raises(sbert_rag.ConfigError, match="no CLIP model"):
        open_collection(built, "images")
    with pytest.raises(sbert_rag.ConfigError, match=r"\['chunks', 'images'\]; got 'docs'"):
        open_collection(built, "docs")


def _fresh_process(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)


def test_reopening_in_a_fresh_process_with_and_without_the_import(built: Path) -> None:
    expected = _dense_ids(built, "the cat", 3)
    vector = Store.open(built).models.text.encode_queries(["the cat"])[0].tolist()
    reopen = (
        "import json, chromadb\n"
        f"col = chromadb.PersistentClient({str(built / 'chroma')!r}).get_collection('chunks')\n"
        f"print(json.dumps(col.query(query_embeddings=[{vector!r}], n_results=3)['ids'][0]), flush=True)\n"
        "print(json.dumps(col.query(query_texts=['the cat'], n_results=3)['ids'][0]))\n"
    )
    # plain chromadb: the records and query_embeddings work; query_texts ends in Chroma's own error
    plain = _fresh_process(reopen)
    assert plain.returncode == 1 and json.loads(plain.stdout.splitlines()[0]) == expected
    assert plain.stderr.strip().splitlines()[-1].startswith(NOT_FOUND)
    # importing the adapter registers the function: query_texts embeds with the store's model and prompt
    done = _fresh_process("import sbert_rag_chroma\n" + reopen)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [json.loads(line) for line in done.stdout.splitlines()] == [expected, expected]
    # so does using the store (sbert_rag.chroma_function is imported then, never by `import sbert_rag`)
    used = _fresh_process(
        "import sys, sbert_rag\nassert 'chromadb' not in sys.modules\n"
        f"sbert_rag.Store.open({str(built)!r}).info()\n" + reopen
    )
    assert used.returncode == 0, used.stderr[-3000:]
    assert json.loads(used.stdout.splitlines()[-1]) == expected


def test_a_store_written_before_collections_recorded_a_function(tiny_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "old"
    # what earlier versions created: no function in the collection's configuration
    _client(folder).create_collection(
        "chunks", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
    )
    store = Store.open(folder, create=True, model=str(tiny_model))
    ids = store.add_texts(list(CORPUS.values()), metadatas=[{"source": name} for name in CORPUS])
    persisted = _client(folder).get_collection("chunks").configuration_json["embedding_function"]
    assert persisted == {"type": "legacy"}  # no function recorded
    reopened = Store.open(folder)
    assert reopened.search("red bird", k=1, mode="bm25")[0].id == ids[2]
    assert len(reopened.search("the cat", k=3)) == 3
    col = open_collection(folder)  # bound to the function the manifest describes
    for query in QUERIES:
        assert col.query(query_texts=[query], n_results=3)["ids"][0] == _dense_ids(reopened, query, 3)


def test_store_ids_sidecar_modes_and_bad_input(tiny_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "api"
    texts = list(CORPUS.values())
    store = Store.open(folder, create=True, model=str(tiny_model))
    ids = store.add_texts([texts[0], texts[1], texts[0]])
    assert ids[0] == ids[2] == content_id(texts[0]) and open_collection(folder).count() == 2
    store.add_texts(texts)
    col = open_collection(folder)
    assert col.count() == len(texts) and set(col.get()["ids"]) == {content_id(t) for t in texts}
    # the BM25 sidecar written by this process is loaded, not rebuilt, by the next one
    with mock.patch("sbert_rag.indexing.store.BM25Index.from_texts", side_effect=AssertionError("rebuilt")):
        lexical = Store.open(folder).search("bird", k=3, mode="bm25")
    assert [h.text for h in lexical] == [CORPUS["bird.txt"]] and lexical[0].source == "bm25"
    dense = store.search(CORPUS["car.txt"], k=2, mode="dense")
    assert dense[0].text == CORPUS["car.txt"]
    hybrid = store.search("bird", k=50)  # fewer when the store holds fewer
    assert len(hybrid) == len(texts) and hybrid[0].text == CORPUS["bird.txt"]
    assert [h.rank for h in hybrid] == list(range(1, len(texts) + 1))
    store.delete([content_id(CORPUS["bird.txt"])])
    assert Store.open(folder).search("bird", k=3, mode="bm25") == []
    assert open_collection(folder).count() == len(texts) - 1
    for bad in ({"query": " "}, {"query": "x", "k": 0}, {"query": "x", "mode": "sparse"}):
        with pytest.raises(sbert_rag.InvalidInputError):
            store.search(**bad)


def test_images_collection_records_the_clip_function(
    tiny_model: Path, tiny_clip, tiny_clip_dir: Path, image_files: dict[str, Path], tmp_path: Path
) -> None:
    import shutil

    from PIL import Image

    corpus = _write_corpus(tmp_path / "corpus")
    for name, path in image_files.items():
        shutil.copy(path, corpus / f"{name}.png")
    folder = tmp_path / "store"
    store = Store.open(folder, create=True, model=str(tiny_model), clip=str(tiny_clip_dir))
    store.add_folder(corpus)
    col = open_collection(folder, "images")
    persisted = col.configuration_json["embedding_function"]
    config = {"clip_folder": str(tiny_clip_dir.resolve()), "dim": tiny_clip.dim, "overflow": "warn"}
    assert persisted == {"type": "known", "name": "sbert_rag_clip", "config": config}
    for name, path in image_files.items():
        expected = [h.id for h in store.search_by_image(path, k=2)]
        got = col.query(query_images=[np.array(Image.open(path).convert("RGB"))], n_results=2)["ids"][0]
        assert got == expected and store.get(got[:1])[0].file == f"{name}.png"
