"""``index_folder_distributed``: the Ray run stores exactly the local run's records, and resumes like it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sbert_rag.indexing import IndexOptions, Store

MODEL_OPTIONS = {"device": "cpu", "dtype": "float32"}


def _same_records(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for rid, record in want.items():
        assert {k: v for k, v in got[rid].items() if k != "embedding"} == \
            {k: v for k, v in record.items() if k != "embedding"}, rid
    a = np.stack([got[rid]["embedding"] for rid in sorted(want)])
    b = np.stack([want[rid]["embedding"] for rid in sorted(want)])
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert float(np.max(1 - cos)) <= 1e-5


def test_ray_run_equals_local_run_and_reruns_embed_nothing(
    ray_runtime, tiny_model: Path, small_corpus: Path, tmp_path: Path, store_records
) -> None:
    from sbert_rag.distributed import index_folder_distributed

    local = Store.open(tmp_path / "local", create=True, model=str(tiny_model), **MODEL_OPTIONS)
    local_report = local.add_folder(small_corpus)
    want = store_records(tmp_path / "local")
    assert local_report.totals["chunks"] == len(want) and sum(r["file"] == "long.md" for r in want.values()) > 3

    report = index_folder_distributed(small_corpus, tmp_path / "ray", model=str(tiny_model), workers=2,
                                      batch_size=2, **MODEL_OPTIONS)
    _same_records(store_records(tmp_path / "ray"), want)
    fields = ("root", "model", "files", "unchanged", "written", "chunks_added", "chunks_removed", "skipped",
              "ignored", "totals")
    assert {f: getattr(report, f) for f in fields} == {f: getattr(local_report, f) for f in fields}
    assert report.store == str(tmp_path / "ray") and report.ignored == {"unsupported type (.csv)": 1}

    again = index_folder_distributed(small_corpus, str(tmp_path / "ray"), model=str(tiny_model), **MODEL_OPTIONS)
    assert again.unchanged == again.files == 4 and again.written == again.chunks_added == 0

    # an edited file and a removed one: the same changes as a local run makes
    (small_corpus / "short.txt").write_text("The cat sits on the red house.\n", encoding="utf-8")
    (small_corpus / "sub" / "more.txt").unlink()
    changed = index_folder_distributed(small_corpus, Store.open(tmp_path / "ray", **MODEL_OPTIONS), prune=True)
    local_changed = local.add_folder(small_corpus, prune=True)
    for f in ("files", "unchanged", "written", "chunks_added", "chunks_removed", "pruned_files", "totals"):
        assert getattr(changed, f) == getattr(local_changed, f), f
    _same_records(store_records(tmp_path / "ray"), store_records(tmp_path / "local"))


def test_a_dataset_of_files_gives_the_folder_records(
    ray_runtime, tiny_model: Path, small_corpus: Path, tmp_path: Path, store_records
) -> None:
    from sbert_rag.distributed import index_folder_distributed

    Store.open(tmp_path / "local", create=True, model=str(tiny_model), **MODEL_OPTIONS).add_folder(small_corpus)
    ds = ray_runtime.data.read_binary_files(str(small_corpus), include_paths=True)
    report = index_folder_distributed(ds, tmp_path / "ray", root=small_corpus, model=str(tiny_model),
                                      options=IndexOptions(progress=False, embed_batch=4), **MODEL_OPTIONS)
    assert report.files == 4 and report.ignored == {"unsupported type (.csv)": 1}
    assert report.root == str(small_corpus.resolve())
    _same_records(store_records(tmp_path / "ray"), store_records(tmp_path / "local"))


def test_ray_run_into_a_server_store_equals_a_local_folder_store(
    ray_runtime, chroma_server: int, tiny_model: Path, small_corpus: Path, tmp_path: Path, store_records, monkeypatch
) -> None:
    from sbert_rag.distributed import index_folder_distributed

    monkeypatch.setenv("SBERT_RAG_CACHE", str(tmp_path / "cache"))
    local = Store.open(tmp_path / "local", create=True, model=str(tiny_model), **MODEL_OPTIONS)
    local_report = local.add_folder(small_corpus)
    url = f"http://127.0.0.1:{chroma_server}/ray-ingest"
    report = index_folder_distributed(small_corpus, url, model=str(tiny_model), workers=2, batch_size=1,
                                      **MODEL_OPTIONS)
    assert report.store == url and report.totals == local_report.totals
    _same_records(store_records(url), store_records(tmp_path / "local"))
    remote = Store.open(url, **MODEL_OPTIONS)
    for query in ("the cat sits in the house", "blue car"):
        assert [h.id for h in remote.search(query, k=10)] == [h.id for h in local.search(query, k=10)]


def test_bad_sources_and_options_are_refused_before_any_work(
    tiny_model: Path, small_corpus: Path, tmp_path: Path
) -> None:
    from sbert_rag.distributed import index_folder_distributed
    from sbert_rag.errors import ConfigError, InvalidInputError

    with pytest.raises(InvalidInputError, match="neither a folder nor a ray.data.Dataset"):
        index_folder_distributed(small_corpus / "short.txt", tmp_path / "s")
    with pytest.raises(ConfigError, match="workers must be an integer >= 1"):
        index_folder_distributed(small_corpus, tmp_path / "s", workers=0)
    with pytest.raises(ConfigError, match="gpus_per_worker must be a number >= 0"):
        index_folder_distributed(small_corpus, tmp_path / "s", gpus_per_worker=-1)
    opened = Store.open(tmp_path / "s", create=True, model=str(tiny_model), **MODEL_OPTIONS)
    with pytest.raises(InvalidInputError, match="model options .* come with a store location"):
        index_folder_distributed(small_corpus, opened, model=str(tiny_model))
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())  # nothing written


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from sbert_rag.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_index_command_on_ray_into_a_server_store(
    ray_runtime, chroma_server: int, tiny_model: Path, small_corpus: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """``sbert-rag index DIR --store URL --engine ray`` answers the same top-10 as a local build of DIR."""
    monkeypatch.setenv("SBERT_RAG_CACHE", str(tmp_path / "cache"))
    url = f"http://127.0.0.1:{chroma_server}/cli-ray"
    options = ("--model", str(tiny_model), "--dtype", "float32", "--device", "cpu", "--quiet", "--json")
    code, out, err = _cli(capsys, "index", str(small_corpus), "--store", url, "--engine", "ray", "--workers", "2",
                          "--cpus-per-worker", "1", *options)
    assert code == 0, err
    assert json.loads(out)["store"] == url and json.loads(out)["files"] == 4
    code, _, err = _cli(capsys, "index", str(small_corpus), "--store", str(tmp_path / "local"), *options)
    assert code == 0, err
    for query in ("the cat sits in the house", "blue car", "a green tree"):
        ranked = []
        for store in (url, str(tmp_path / "local")):
            code, out, err = _cli(capsys, "search", query, "--store", store, "--k", "10", "--json",
                                  "--dtype", "float32", "--device", "cpu")
            assert code == 0, err
            ranked.append([hit["id"] for hit in json.loads(out)])
        assert ranked[0] == ranked[1] and ranked[0], query
    code, _, err = _cli(capsys, "index", str(small_corpus), "--store", url, "--workers", "2", *options)
    assert code == 2 and "--workers apply with --engine ray" in err


def test_images_go_through_clip_on_ray_as_locally(
    ray_runtime, tiny_model: Path, tiny_clip, small_corpus: Path, tmp_path: Path, store_records
) -> None:
    from PIL import Image

    from sbert_rag.distributed import index_folder_distributed

    clip = tiny_clip.save(tmp_path / "clip")
    for i, color in enumerate(("red", "blue", "green")):
        Image.new("RGB", (40, 30), color).save(small_corpus / f"picture-{i}.png")
    local = Store.open(tmp_path / "local", create=True, model=str(tiny_model), clip=str(clip), **MODEL_OPTIONS)
    local_report = local.add_folder(small_corpus)
    assert local_report.totals["images"] == 3
    report = index_folder_distributed(small_corpus, tmp_path / "ray", model=str(tiny_model), clip=str(clip),
                                      workers=2, batch_size=2, **MODEL_OPTIONS)
    assert report.totals == local_report.totals and report.images_added == 3
    _same_records(store_records(tmp_path / "ray"), store_records(tmp_path / "local"))
    ray_store = Store.open(tmp_path / "ray", **MODEL_OPTIONS)
    assert [h.id for h in ray_store.search("a red picture", k=5, mode="dense")] == \
        [h.id for h in local.search("a red picture", k=5, mode="dense")]
