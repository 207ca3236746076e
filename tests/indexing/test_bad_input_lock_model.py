"""Bad files are skipped with reasons, the writer lock refuses a second run, other models are refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sbert_rag.indexing import WriterLock


def _index(cli, corpus: Path, store: Path, *extra: str) -> dict:
    code, out, err = cli("index", str(corpus), "--store", str(store), "--json", "--quiet", *extra)
    assert code == 0, err
    return json.loads(out)


def test_bad_files_are_reported_and_skipped_while_the_rest_is_indexed(cli, corpus: Path, tmp_path: Path) -> None:
    (corpus / "junk.txt").write_bytes(bytes(range(256)) * 8)
    (corpus / "latin1.txt").write_bytes(b"The caf\xe9 by the harbour serves cr\xe8me br\xfbl\xe9e.")
    (corpus / "controls.md").write_bytes(bytes(range(1, 32)) * 20)
    (corpus / "empty.md").write_bytes(b"")
    (corpus / "blank.txt").write_text(" \n\t\n", encoding="utf-8")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog")
    (corpus / "script-only.html").write_text("<html><script>var a = 1;</script></html>", encoding="utf-8")
    os.symlink("gone-target.txt", corpus / "dangling.txt")
    os.symlink("loop.txt", corpus / "loop.txt")
    os.mkfifo(corpus / "pipe.txt")
    (corpus / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (corpus / "script.py").write_text("print('hi')\n", encoding="utf-8")
    (corpus / ".hidden.md").write_text("# hidden\n\nnever walked", encoding="utf-8")

    summary = _index(cli, corpus, tmp_path / "store")
    reasons = {s["file"]: s["reason"] for s in summary["skipped"]}
    assert set(reasons) == {"junk.txt", "controls.md", "empty.md", "blank.txt", "broken.pdf", "script-only.html",
                            "dangling.txt", "loop.txt", "pipe.txt"}
    assert "binary data (NUL bytes)" in reasons["junk.txt"]
    assert "control characters" in reasons["controls.md"]
    assert reasons["empty.md"] == "empty file (0 bytes)"
    assert "whitespace only" in reasons["blank.txt"] and "no text" in reasons["script-only.html"]
    assert reasons["broken.pdf"].startswith("broken PDF")
    assert "cannot read" in reasons["dangling.txt"] and "No such file" in reasons["dangling.txt"]
    assert "cannot read" in reasons["loop.txt"] and "symbolic links" in reasons["loop.txt"]
    assert "not a regular file" in reasons["pipe.txt"]
    assert summary["written"] == 9  # the 8 corpus files and latin1.txt
    assert summary["ignored"] == {"image (the store has no CLIP model)": 1, "unsupported type (.py)": 1}

    code, out, _ = cli("index", str(corpus), "--store", str(tmp_path / "store"), "--quiet")
    assert code == 0 and "skipped 9 file(s):" in out and "  junk.txt: binary data (NUL bytes), not text" in out
    code, out, _ = cli("search", "café harbour", "--store", str(tmp_path / "store"), "--mode", "bm25", "--json")
    assert json.loads(out)[0]["file"] == "latin1.txt"


def test_a_file_turned_bad_keeps_its_earlier_chunks(cli, corpus: Path, tmp_path: Path, store_records) -> None:
    store = tmp_path / "store"
    _index(cli, corpus, store)
    before = store_records(store)
    (corpus / "sourdough-starter.md").write_bytes(b"\x00\x01garbage")
    summary = _index(cli, corpus, store)
    (skipped,) = summary["skipped"]
    assert skipped["file"] == "sourdough-starter.md" and skipped["kept"] >= 1
    assert store_records(store) == before


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sbert_rag.image import CLIPConfig, CLIPEncoder

    clip = CLIPEncoder.from_config(CLIPConfig.small(), seed=0, device="cpu")
    return clip.save(tmp_path_factory.mktemp("clip") / "tiny-clip")


def test_images_with_clip_and_a_corrupt_image(cli, corpus: Path, tmp_path: Path, clip_dir: Path) -> None:
    from PIL import Image

    (corpus / "figures").mkdir()
    Image.new("RGB", (48, 40), (200, 30, 30)).save(corpus / "figures" / "red.png")
    Image.new("RGB", (40, 40), (20, 30, 220)).save(corpus / "figures" / "blue.jpg")
    (corpus / "figures" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x13" * 64)
    store = tmp_path / "store"
    summary = _index(cli, corpus, store, "--clip", str(clip_dir))
    assert summary["images_added"] == 2 and summary["totals"]["images"] == 2
    (skipped,) = summary["skipped"]
    assert skipped["file"] == "figures/corrupt.png" and "cannot be decoded as an image" in skipped["reason"]

    code, out, _ = cli("search", "a red square", "--store", str(store), "--k", "50", "--json")
    hits = json.loads(out)
    images = [h for h in hits if h["kind"] == "image"]
    assert code == 0 and {h["file"] for h in images} == {"figures/red.png", "figures/blue.jpg"}
    assert all(h["text"] == h["file"] for h in images)
    # one score scale for chunks and images: each ranking scaled to [0, 1], both heads at 1
    assert all(0.0 <= h["score"] <= 1.0 for h in hits) and [h["score"] for h in hits][:2] == [1.0, 1.0]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert {h["kind"] for h in hits[:2]} == {"text", "image"}
    code, out, _ = cli("search", "a red square", "--store", str(store), "--k", "50")
    assert "figures/red.png  (image)" in out
    code, out, _ = cli("search", "a red square", "--store", str(store), "--mode", "bm25", "--json")
    assert all(h["kind"] == "text" for h in json.loads(out))
    from sbert_rag import Store

    by_image = Store.open(store).search_by_image(corpus / "figures" / "red.png", k=2)
    assert [h.file for h in by_image][0] == "figures/red.png" and by_image[0].score == pytest.approx(1.0, abs=1e-4)
    assert {h.kind for h in by_image} == {"image"}

    again = _index(cli, corpus, store)  # the CLIP model is recorded: no --clip needed
    assert again["unchanged"] == 10 and again["images_added"] == again["images_removed"] == 0
    code, out, _ = cli("info", "--store", str(store), "--json")
    info = json.loads(out)
    assert info["images"] == 2 and info["clip"] == {"path": str(clip_dir.resolve()), "dim": 32}
    code, _, err = cli("index", str(corpus), "--store", str(store), "--clip", str(corpus / "figures"))
    assert code == 2 and "CLIP model" in err and str(clip_dir.resolve()) in err


def test_second_writer_is_refused_while_searches_work(cli, corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    _index(cli, corpus, store)
    with WriterLock(store):
        code, _, err = cli("index", str(corpus), "--store", str(store))
        assert code == 2
        assert f"pid {os.getpid()}" in err and "being written by another process" in err
        assert "searches work meanwhile" in err and len(err.strip().splitlines()) == 1
        code, out, _ = cli("search", "tidal barrage", "--store", str(store), "--k", "1", "--json")
        assert code == 0 and json.loads(out)[0]["file"] == "tidal-power.html"
    assert _index(cli, corpus, store)["unchanged"] == 8  # released: a new run goes ahead


def test_lock_is_free_again_after_its_holder_exits(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "import sys; from sbert_rag.indexing import WriterLock; WriterLock(sys.argv[1]).acquire(); print('held')"
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "held"
    lock = WriterLock(tmp_path)
    assert lock.try_acquire() and lock.held
    lock.release()


def test_another_model_is_refused_naming_both(cli, corpus: Path, tmp_path: Path, tiny_models) -> None:
    plain, _ = tiny_models
    store = tmp_path / "store"
    _index(cli, corpus, store)
    code, _, err = cli("index", str(corpus), "--store", str(store), "--model", str(plain))
    assert code == 2 and "'packaged:all-MiniLM-L6-v2' (dim 384)" in err and str(plain.resolve()) in err
    assert "Leave the model out" in err and "(options: --model, --store)" in err
    code, _, err = cli("search", "bees", "--store", str(store), "--model", str(plain))
    assert code == 2 and "packaged:all-MiniLM-L6-v2" in err and str(plain.resolve()) in err


def test_a_model_folder_that_changed_keeps_the_recorded_settings(
    cli, corpus: Path, tmp_path: Path, tiny_models, _encoder_cache: dict
) -> None:
    import shutil

    plain, prompted = tiny_models
    model = tmp_path / "model"
    shutil.copytree(plain, model)
    store = tmp_path / "store"
    summary = _index(cli, corpus, store, "--model", str(model), "--max-tokens", "48")
    assert summary["model"] == str(model.resolve()) and summary["written"] == 8
    shutil.rmtree(model)
    shutil.copytree(prompted, model)  # same path, now with a saved query prompt
    _encoder_cache.clear()  # load the folder again, as a new process would
    # the store recorded its settings (query prompt ''): they stay in force, so its vectors still match
    code, _, err = cli("search", "bees", "--store", str(store), "--json")
    assert code == 0, err
    code, out, _ = cli("info", "--store", str(store), "--json")
    assert json.loads(out)["encoder"]["query_prompt"] == ""
