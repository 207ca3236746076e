"""Turning a file's bytes into indexable text: plain text, Markdown, HTML and PDF.

Owns decoding (UTF-8, then Windows-1252 for legacy text; anything that still looks binary is
refused), HTML to text (tags dropped, ``script``/``style`` and similar skipped, entities
unescaped, block elements on their own lines), PDF text per page through pypdf (imported on
first use), and a title per document where the format has one (HTML ``<title>``, a Markdown
document's first heading). Every refusal is an ``InvalidInputError`` whose message is the short
reason the index summary prints. Deliberately does not chunk and keeps no state.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from sbert_rag._deps import require
from sbert_rag.errors import InvalidInputError

# Above this share of control characters (tabs, newlines and form feeds aside) a file is binary.
_MAX_CONTROL_SHARE = 0.01
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # Unicode category Cc minus \t \n \v \f \r
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head"})
# elements that end a line; the paragraph-like ones leave a blank line after them
_PARAGRAPH_TAGS = frozenset({
    "article", "aside", "blockquote", "div", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "ol", "p",
    "pre", "section", "table", "ul",
})
_BLOCK_TAGS = _PARAGRAPH_TAGS | {
    "address", "br", "dd", "dl", "dt", "figcaption", "figure", "form", "hr", "li", "main", "nav", "tbody", "td",
    "tfoot", "th", "thead", "tr",
}


@dataclass(frozen=True)
class Extracted:
    """The text of one file.

    Attributes:
        text: the text chunks are cut from; chunk offsets refer to it.
        title: a document title to prepend to each chunk's passage ("" when none).
        page_starts: for a PDF, the offset in ``text`` where each page begins.
        encoding: how the bytes were decoded (``"pdf"`` for PDFs).
    """

    text: str
    title: str = ""
    page_starts: tuple[int, ...] = ()
    encoding: str = "utf-8"


def extract(data: bytes, kind: str) -> Extracted:
    """Extract the text of a file of ``kind`` (``text``, ``markdown``, ``html`` or ``pdf``).

    Raises:
        InvalidInputError: the file is empty, binary, undecodable, a broken or encrypted PDF, or
            holds no text; the message is the reason to report.
    """
    if not data:
        raise InvalidInputError("empty file (0 bytes)")
    if kind == "pdf":
        extracted = _pdf(data)
    else:
        text, encoding = decode_text(data)
        if kind == "html":
            text, title = html_to_text(text)
            extracted = Extracted(text, title, encoding=encoding)
        else:
            extracted = Extracted(text, _markdown_title(text) if kind == "markdown" else "", encoding=encoding)
    if not extracted.text.strip():
        raise InvalidInputError("no text (empty or whitespace only)" if kind != "pdf" else
                                "no extractable text (a scanned PDF needs OCR first)")
    return extracted


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode text bytes: UTF-8 (a BOM is dropped), else Windows-1252.

    Returns:
        The text and the encoding used.

    Raises:
        InvalidInputError: NUL bytes, bytes no encoding explains, or too many control characters.
    """
    if b"\x00" in data:
        raise InvalidInputError("binary data (NUL bytes), not text")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = len(_CONTROL.findall(text))
        if controls > _MAX_CONTROL_SHARE * len(text):
            raise InvalidInputError(f"binary data ({controls} control characters in {len(text)}), not text")
        return text, "utf-8" if encoding == "utf-8-sig" else encoding
    raise InvalidInputError("binary data (neither UTF-8 nor Windows-1252 text)")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skip_depth = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag == "body":
            self._skip_depth = 0  # a <head> whose end tag was left out (HTML allows it) ends here
        elif tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _PARAGRAPH_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skip_depth:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """Visible text of an HTML document, and its ``<title>``.

    Whitespace inside a line is collapsed to one space; block elements end lines and paragraphs
    are separated by one blank line, so the chunker can cut at them.

    Returns:
        (text, title); both may be empty.
    """
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = [" ".join(line.split()) for line in "".join(collector.parts).splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text, " ".join("".join(collector.title).split())


def _markdown_title(text: str) -> str:
    match = _MD_HEADING.search(text[:2000])
    return match.group(1).strip() if match else ""


def _pdf(data: bytes) -> Extracted:
    pypdf = require("pypdf", "sbert-rag[index]")
    pages: list[str] = []
    # pypdf logs its repairs of malformed files ("EOF marker not found") as warnings; a file it
    # cannot read is reported in the summary instead, so keep its log to errors while reading
    pdf_log = logging.getLogger("pypdf")
    level = pdf_log.level
    pdf_log.setLevel(max(level, logging.ERROR))
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidInputError("encrypted PDF (no empty password); decrypt it first")
        for page in reader.pages:
            pages.append((page.extract_text() or "").strip())
    except InvalidInputError:
        raise
    except Exception as err:  # pypdf raises many unrelated types on malformed files
        raise InvalidInputError(f"broken PDF ({type(err).__name__}: {err})") from err
    finally:
        pdf_log.setLevel(level)
    starts, text = [], ""
    for page_text in pages:
        if text:
            text += "\n\n"
        starts.append(len(text))
        text += page_text
    return Extracted(text, page_starts=tuple(starts), encoding="pdf")
