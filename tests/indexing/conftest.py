"""Fixtures of the ``sbert-rag index/search/info`` tests: corpora, a hand-written PDF, the CLI in-process.

In-process runs load the packaged default model once per session (``TextEncoder.from_pretrained``
is memoised per arguments for these tests only); subprocess runs load it for real.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CORPUS = ROOT / "examples" / "corpus"

# words of the tiny test tokenizer's vocabulary (tests/conftest.py), so each is one token there
_WORDS = [
    "the", "a", "is", "of", "to", "in", "on", "and", "with", "for", "by", "at", "from", "cat", "dog", "bird", "fish",
    "red", "blue", "green", "big", "small", "house", "tree", "car", "runs", "sits", "eats", "query", "passage",
    "hello", "world", "text", "long", "short", "sentence", "model", "vector", "search",
]


def tiny_pdf(lines: list[str]) -> bytes:
    """A valid one-page PDF whose Helvetica text stream holds ``lines`` (pypdf extracts them)."""
    content = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        ("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
         "/Contents 5 0 R >>"),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


PDF_LINES = ["Photovoltaic panels convert sunlight into direct current.", "An inverter turns it into alternating current."]


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """The example corpus (7 files) plus a one-page PDF, copied into a fresh folder."""
    folder = tmp_path / "corpus"
    shutil.copytree(EXAMPLE_CORPUS, folder)
    (folder / "reports").mkdir()
    (folder / "reports" / "solar.pdf").write_bytes(tiny_pdf(PDF_LINES))
    return folder


def write_generated_corpus(folder: Path, files: int, words: int = 120, seed: int = 0) -> Path:
    """``files`` text files of seeded pseudo-prose, about ``words`` words each."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        sentences = []
        while sum(len(s.split()) for s in sentences) < words:
            sentences.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 14))).capitalize() + ".")
        paragraphs = [" ".join(sentences[j:j + 5]) for j in range(0, len(sentences), 5)]
        (folder / f"note-{i:02d}.txt").write_text(f"Note {i}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return folder


def subprocess_env() -> dict[str, str]:
    """Environment of ``python -m sbert_rag.cli`` children: offline, this checkout first on the path."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": path}


def cli_command(*args: str) -> list[str]:
    """The argv of a child ``sbert-rag`` process."""
    return [sys.executable, "-m", "sbert_rag.cli", *args]


@pytest.fixture(scope="session")
def _encoder_cache() -> dict[tuple[Any, ...], Any]:
    return {}


@pytest.fixture(autouse=True)
def _load_each_model_once(monkeypatch: pytest.MonkeyPatch, _encoder_cache: dict[tuple[Any, ...], Any]) -> None:
    """Memoise ``TextEncoder.from_pretrained`` per arguments: in-process runs then load the model once."""
    import torch

    from sbert_rag.encoding.text_encoder import TextEncoder

    torch.set_num_threads(2)
    real = TextEncoder.from_pretrained.__func__  # type: ignore[attr-defined]

    def cached(cls: type, model: Any = None, **kwargs: Any) -> Any:
        key = (str(model), repr(sorted(kwargs.items())))
        if key not in _encoder_cache:
            _encoder_cache[key] = real(cls, model, **kwargs)
        return _encoder_cache[key]

    monkeypatch.setattr(TextEncoder, "from_pretrained", classmethod(cached))


@pytest.fixture()
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run ``sbert-rag`` in-process: ``cli("index", ...)`` -> (exit code, stdout, stderr)."""
    from sbert_rag.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _store_records(store: Path | str) -> dict[str, dict[str, Any]]:
    """Every record of a store (chunks and images; a folder or a server URL): id -> metadata plus ``document``."""
    from sbert_rag import Store

    opened = Store.open(str(store)).records
    records: dict[str, dict[str, Any]] = {}
    for kind in ("text", "image"):
        rows = opened.read(kind, ["documents", "metadatas"])
        for rid, doc, meta in zip(rows.ids, rows.documents, rows.metadatas):
            records[rid] = {**meta, "document": doc}
    return records


@pytest.fixture()
def no_model_load(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if any text model is loaded (proves a run embedded nothing)."""
    from sbert_rag.encoding.text_encoder import TextEncoder

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a model was loaded, so something was going to be embedded")

    monkeypatch.setattr(TextEncoder, "from_pretrained", classmethod(refuse))
    yield


@pytest.fixture()
def store_records() -> Any:
    """``store_records(store)``: every record of a store (chunks and images), id -> metadata + ``document``."""
    return _store_records


@pytest.fixture()
def pdf_bytes() -> bytes:
    """A one-page PDF holding ``PDF_LINES``."""
    return tiny_pdf(PDF_LINES)


@pytest.fixture()
def pdf_lines() -> list[str]:
    """The lines of the corpus PDF."""
    return list(PDF_LINES)


@pytest.fixture()
def child() -> Any:
    """``child(*args)``: (argv, env) of a child ``sbert-rag`` process running this checkout offline."""
    return lambda *args: (cli_command(*args), subprocess_env())


@pytest.fixture()
def generated_corpus() -> Any:
    """``generated_corpus(folder, files)``: write that many seeded multi-chunk text files."""
    return write_generated_corpus


@pytest.fixture(scope="session")
def tiny_models(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two sentence-transformers folders of the tiny BERT (64 tokens, dim 32): without and with a query prompt."""
    from sbert_rag import TextEncoder

    folder = tmp_path_factory.mktemp("tiny_models")
    options = {"pooling": "mean", "normalize": True, "device": "cpu", "dtype": "float32"}
    plain = TextEncoder.from_pretrained(tiny_bert_dir, **options)
    prompted = TextEncoder.from_pretrained(tiny_bert_dir, query_prompt="query: ", **options)
    return plain.save(folder / "plain"), prompted.save(folder / "prompted")


class IndexRuns:
    """``sbert-rag index`` child processes, and waiting for their progress bar to reach a file count."""

    def start(self, corpus: Path, store: Path | str, log: Path, *options: str) -> subprocess.Popen:
        """Start ``sbert-rag index CORPUS --store STORE OPTIONS`` with stderr (the progress bar) to ``log``."""
        argv = cli_command("index", str(corpus), "--store", str(store), *options)
        with open(log, "wb") as stderr:
            return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, env=subprocess_env())

    @staticmethod
    def files_done(log: Path, total: int) -> int:
        """The highest ``done/total`` count the progress bar has written."""
        counts = re.findall(rf"(\d+)/{total} \[", log.read_text(errors="replace"))
        return max((int(c) for c in counts), default=0)

    def wait_for(self, proc: subprocess.Popen, log: Path, total: int, done: int, timeout: float = 120) -> int:
        """Wait until ``done`` of ``total`` files are written; returns the count seen."""
        deadline = time.monotonic() + timeout
        while (seen := self.files_done(log, total)) < done:
            assert proc.poll() is None, f"the run ended before {done} files were done: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"no progress to {done} files in {timeout} s: {log.read_text()[-2000:]}"
            time.sleep(0.01)
        return seen


@pytest.fixture()
def index_runs() -> IndexRuns:
    """Start ``sbert-rag index`` children and follow their progress (``IndexRuns``)."""
    return IndexRuns()
