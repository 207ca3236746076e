"""A store seen from Chroma: index with ``sbert_rag.Store``, then query its collection with Chroma itself.

Run: python examples/chroma_store.py [folder]
Needs: pip install -e integrations/chroma. Offline: the packaged all-MiniLM-L6-v2 embeds. In
``folder`` (a temporary one by default) four documents are written and indexed into a store
(chunks, an exact dense sidecar, a BM25 sidecar; a second run skips the unchanged files) and
searched three ways. The store keeps its records in Chroma (``STORE/chroma``), and each
collection records the store's embedding function, so ``sbert_rag_chroma.open_collection`` hands
Chroma users the ``chunks`` collection with ``query_texts`` embedded by the store's model.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from sbert_rag_chroma import open_collection

from sbert_rag import Store

DOCUMENTS = {
    "bees": (
        "Honey bees",
        "Honey bees perform a waggle dance to tell others where flowers are. The angle of the "
        "dance points the way relative to the sun, and its length tells the distance.",
    ),
    "rfc9110": (
        "HTTP semantics",
        "RFC 9110 defines the semantics of HTTP. Status code 418 is reserved; the method "
        "PATCH is defined elsewhere, in RFC 5789.",
    ),
    "sky": (
        "Why the sky is blue",
        "Rayleigh scattering of sunlight by air molecules makes the sky look blue. At "
        "sunset the light crosses more air, so reds and oranges remain.",
    ),
    "tides": (
        "Tides",
        "Tides are caused mainly by the gravitational pull of the Moon on the oceans, with a smaller "
        "contribution from the Sun.",
    ),
}
QUERIES = ["RFC 5789", "what makes the sea rise and fall?", "how do insects show each other the way to food?"]


def main(folder: Path) -> None:
    docs = folder / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for name, (title, text) in DOCUMENTS.items():
        (docs / f"{name}.md").write_text(f"# {title}\n\n{text}\n", encoding="utf-8")

    store = Store.open(folder / "store", create=True)  # packaged default model, no download
    first = store.add_folder(docs, max_tokens=32, overlap_tokens=4)
    again = store.add_folder(docs)  # resumable and idempotent: unchanged files are not read again
    print(f"{first.chunks_added} chunks from {first.files} files; "
          f"second run: {again.unchanged} unchanged, {again.chunks_added} chunks added")

    for query in QUERIES:
        print(f"{query!r}")
        for mode in ("dense", "bm25", "hybrid"):
            hits = store.search(query, k=1, mode=mode)
            best = f"{Path(hits[0].file).stem} ({hits[0].score:.3f})" if hits else "no hit"
            print(f"  {mode:>6}: {best}")

    # the same records through Chroma: the collection is bound to the store's embedding function
    col = open_collection(folder / "store")
    got = col.query(query_texts=["RFC 5789"], n_results=3)
    dense = [h.id for h in store.search("RFC 5789", k=3, mode="dense")]
    top = got["metadatas"][0][0]
    best = Path(str(top["file"])).stem
    print(f"chroma: {col.count()} records; 'RFC 5789' -> {best}: {got['documents'][0][0]!r}")
    print(f"same ranking as Store.search(mode='dense'): {got['ids'][0] == dense}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
