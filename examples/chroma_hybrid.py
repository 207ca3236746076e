"""Hybrid search over Chroma: chunk documents, store them with a BM25 sidecar, search three ways.

Run: python examples/chroma_hybrid.py [folder]
Needs: pip install -e integrations/chroma. Offline: the packaged all-MiniLM-L6-v2 embeds; the
collection is persisted in ``folder`` (a temporary one by default) and reopened, as a second
process would, with the same model checked and the BM25 sidecar loaded from disk.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import chromadb
from chromadb.config import Settings

from sbert_rag import TextEncoder
from sbert_rag.chunking import Chunker, ChunkerConfig
from sbert_rag_chroma import ChromaHybridStore, SbertRagEmbeddingFunction

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
    encoder = TextEncoder.from_pretrained()  # packaged default model, no download
    ef = SbertRagEmbeddingFunction(encoder)
    chunker = Chunker(encoder, ChunkerConfig(max_tokens=32, overlap_tokens=4))
    ids, texts, titles = zip(
        *[(doc_id, text, title) for doc_id, (title, text) in DOCUMENTS.items()], strict=True
    )
    chunks = chunker.split_documents(list(ids), list(texts), list(titles))

    client = chromadb.PersistentClient(str(folder / "db"), settings=Settings(anonymized_telemetry=False))
    store = ChromaHybridStore.open(client, "articles", ef, bm25_dir=folder / "articles-bm25")
    store.add_chunks(chunks)
    store.add_chunks(chunks)  # content-hash ids: the second add stores nothing new
    print(f"{len(chunks)} chunks from {len(DOCUMENTS)} documents -> {len(store)} records (added twice)")

    for query in QUERIES:
        print(f"{query!r}")
        for mode in ("dense", "bm25", "hybrid"):
            hits = store.search(query, k=1, mode=mode)
            best = f"{hits[0].metadata['doc_id']} ({hits[0].score:.3f})" if hits else "no hit"
            print(f"  {mode:>6}: {best}")

    reopened = ChromaHybridStore.open(
        client, "articles", SbertRagEmbeddingFunction(encoder), bm25_dir=folder / "articles-bm25"
    )
    top = reopened.search("RFC 5789", k=1)[0]
    print(f"reopened: {len(reopened)} records; 'RFC 5789' -> {top.metadata['doc_id']}: {top.text!r}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
