"""The store's small parts on their own: readers, the BM25 sidecar, paged reads, the walk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sbert_rag.errors import InvalidInputError
from sbert_rag.indexing import ids_fingerprint, read_collection
from sbert_rag.indexing.files import walk_folder
from sbert_rag.indexing.readers import decode_text, extract, html_to_text
from sbert_rag.indexing.sidecar import FINGERPRINT_FILE, load_sidecar, save_sidecar
from sbert_rag.retrieval import BM25Config, BM25Index


def test_html_to_text_drops_scripts_and_keeps_blocks_apart() -> None:
    # no </head>: HTML allows leaving it out, and <body> ends the head anyway
    html = ("<html><head><title>A &amp; B</title><style>p {}</style><body><h1>Top</h1>"
            "<p>One <b>bold</b>&nbsp;word.</p><script>x = 1</script><ul><li>a</li><li>b</li></ul>tail</body>")
    text, title = html_to_text(html)
    assert title == "A & B"
    assert text == "Top\n\nOne bold word.\n\na\nb\n\ntail"


def test_markdown_title_and_pdf_pages(pdf_bytes: bytes, pdf_lines: list[str]) -> None:
    assert extract(b"intro\n\n## The title ##\n\nbody", "markdown").title == "The title"
    pdf = extract(pdf_bytes, "pdf")
    assert pdf.page_starts == (0,) and pdf.text.splitlines() == pdf_lines and pdf.encoding == "pdf"


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"a\x00b", "NUL bytes"), (b"\x81\x8d\x8f", "neither UTF-8 nor Windows-1252"), (b"\x01\x02\x03 text", "control")],
)
def test_binary_text_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInputError, match=reason):
        decode_text(data)


def test_text_decodes_utf8_with_bom_and_windows_1252() -> None:
    assert decode_text("\ufeffnaïve".encode()) == ("naïve", "utf-8")
    assert decode_text("it’s".encode("cp1252")) == ("it’s", "cp1252")


def test_walk_skips_hidden_the_store_and_linked_folders(tmp_path: Path) -> None:
    for rel in ("a.md", "sub/b.TXT", ".git/c.md", "sub/.d.md", "store/e.md", "x.csv", "p.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("text", encoding="utf-8")
    (tmp_path / "link").symlink_to(tmp_path / "sub", target_is_directory=True)
    found = walk_folder(tmp_path, images=False, exclude=(tmp_path / "store",))
    assert [(f.rel, f.kind) for f in found.files] == [("a.md", "markdown"), ("sub/b.TXT", "text")]
    assert found.ignored == {"unsupported type (.csv)": 1, "image (the store has no CLIP model)": 1}
    assert [f.rel for f in walk_folder(tmp_path, images=True, exclude=(tmp_path / "store",)).files][1] == "p.png"


def test_sidecar_is_replaced_whole_and_refused_when_stale(tmp_path: Path) -> None:
    config = BM25Config()
    first = BM25Index.from_texts(["a", "b"], ["red car", "blue fish"], config)
    save_sidecar(first, tmp_path)
    assert load_sidecar(tmp_path, ["b", "a"], config).ids == ("a", "b")
    assert load_sidecar(tmp_path, ["a"], config) is None  # other ids
    assert load_sidecar(tmp_path, ["a", "b"], BM25Config(stemmer=None)) is None  # other options
    second = BM25Index.from_texts(["c"], ["green tree"], config)
    save_sidecar(second, tmp_path)
    saved = json.loads((tmp_path / FINGERPRINT_FILE).read_text())
    assert saved["ids_sha256"] == ids_fingerprint(["c"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([FINGERPRINT_FILE, saved["index"]])
    (tmp_path / saved["index"] / "ids.json").unlink()  # a writer removing it under a reader
    assert load_sidecar(tmp_path, ["c"], config) is None


class _PagedCollection:
    """A collection whose pages overlap, as when another process inserts during a read."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def get(self, limit: int, offset: int, include: list[str]) -> dict:
        start = max(0, offset - 1)  # one record shifted back into this page
        page = self.ids[start:start + limit]
        return {"ids": page, "documents": [f"doc {i}" for i in page], "metadatas": [None for _ in page]}


def test_read_collection_pages_without_duplicates() -> None:
    rows = read_collection(_PagedCollection([f"id{i}" for i in range(7)]), ["documents", "metadatas"], page_size=3)
    assert rows.ids == [f"id{i}" for i in range(7)]
    assert rows.documents[0] == "doc id0" and rows.metadatas == [{}] * 7
