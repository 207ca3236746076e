from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.retrieval import BM25Config, BM25Index

CORPUS = {
    "d1": "The cat sat on the mat with another cat",
    "d2": "Dogs chase cats in the garden",
    "d3": "A quick brown fox jumps over the lazy dog",
    "d4": "Mat weaving is an ancient craft; the mat is woven by hand",
    "d5": "Gardens need water and sun",
}


def _brute_force(query: str, corpus: dict[str, str], k1: float = 1.5, b: float = 0.75) -> dict[str, float]:
    """Lucene BM25 in 20 lines: idf = ln(1 + (N - df + .5) / (df + .5)), tf / (tf + k1 (1 - b + b dl / avgdl))."""
    tokenize = lambda text: re.findall(r"(?u)\b\w\w+\b", text.lower())  # noqa: E731
    docs = {d: Counter(tokenize(t)) for d, t in corpus.items()}
    lengths = {d: sum(c.values()) for d, c in docs.items()}
    avgdl = sum(lengths.values()) / len(docs)
    scores = {}
    for d, tf in docs.items():
        score = 0.0
        for term in tokenize(query):
            df = sum(1 for c in docs.values() if term in c)
            if df == 0 or tf[term] == 0:
                continue
            idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
            score += idf * tf[term] / (tf[term] + k1 * (1 - b + b * lengths[d] / avgdl))
        if score > 0:
            scores[d] = score
    return scores


@pytest.mark.parametrize("query", ["cat mat", "the cat cat", "garden dog fox", "woven craft"])
@pytest.mark.parametrize(("k1", "b"), [(1.5, 0.75), (0.9, 0.4)])
def test_search_matches_brute_force(query: str, k1: float, b: float) -> None:
    index = BM25Index.from_texts(list(CORPUS), list(CORPUS.values()), BM25Config(stopwords=None, stemmer=None, k1=k1, b=b))
    (hits,) = index.search([query], k=5)
    expected = _brute_force(query, CORPUS, k1, b)
    assert {h.id for h in hits} == set(expected)
    for hit in hits:
        assert hit.score == pytest.approx(expected[hit.id], rel=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1)) and all(h.source == "bm25" for h in hits)


def test_search_stemming_and_stopwords() -> None:
    ids, texts = list(CORPUS), list(CORPUS.values())
    plain = BM25Index.from_texts(ids, texts, BM25Config(stopwords="en", stemmer=None))
    stemmed = BM25Index.from_texts(ids, texts, BM25Config(stopwords="en", stemmer="english"))
    assert {h.id for h in plain.search(["gardens"], k=5)[0]} == {"d5"}
    assert {h.id for h in stemmed.search(["gardens"], k=5)[0]} == {"d2", "d5"}
    with pytest.raises(InvalidInputError, match="no term known"):
        plain.search(["the and of"], k=1)  # only stopwords


def test_search_returns_only_matching_documents() -> None:
    index = BM25Index.from_texts(list(CORPUS), list(CORPUS.values()))
    (hits,) = index.search(["fox"], k=5)
    assert [h.id for h in hits] == ["d3"]


def test_search_no_known_term_raises_or_gives_empty() -> None:
    index = BM25Index.from_texts(list(CORPUS), list(CORPUS.values()))
    with pytest.raises(InvalidInputError, match=r"query 1 \('zebra quantum'\) has no term known.*allow_no_match=True"):
        index.search(["cat", "zebra quantum"], k=2)
    hits = index.search(["cat", "zebra quantum"], k=2, allow_no_match=True)
    assert hits[1] == [] and hits[0]


def test_search_errors() -> None:
    with pytest.raises(InvalidInputError, match="the BM25 index is empty"):
        BM25Index().search(["cat"], k=1)
    index = BM25Index.from_texts(list(CORPUS), list(CORPUS.values()))
    with pytest.raises(InvalidInputError, match=r"k must be an integer in \[1, 5\].*got 6"):
        index.search(["cat"], k=6)
    with pytest.raises(InvalidInputError, match="query 0 is empty or blank"):
        index.search(["  "], k=1)


def test_index_errors() -> None:
    with pytest.raises(InvalidInputError, match="empty corpus"):
        BM25Index.from_texts([], [])
    with pytest.raises(InvalidInputError, match="'a' at index 1 repeats index 0"):
        BM25Index.from_texts(["a", "a"], ["x y", "z w"])
    with pytest.raises(InvalidInputError, match="text of id 'b' \\(index 1\\) is empty"):
        BM25Index.from_texts(["a", "b"], ["x y", " "])
    with pytest.raises(InvalidInputError, match="2 ids but 1 texts"):
        BM25Index.from_texts(["a", "b"], ["x y"])


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="method must be one of"):
        BM25Config(method="okapi")
    with pytest.raises(ConfigError, match="stopwords must be None or one of"):
        BM25Config(stopwords="klingon")
    with pytest.raises(ConfigError, match="unknown stemmer language 'klingon'"):
        BM25Index(BM25Config(stemmer="klingon"))
    with pytest.raises(ConfigError, match="unknown BM25Config keys: colour"):
        BM25Config.from_dict({"colour": 1})


def test_save_load_round_trip(tmp_path) -> None:
    config = BM25Config(stopwords="en", stemmer="english", k1=1.2)
    index = BM25Index.from_texts(list(CORPUS), list(CORPUS.values()), config)
    loaded = BM25Index.load(index.save(tmp_path / "bm25"))
    assert loaded.config == config and loaded.ids == index.ids
    queries = ["cats in gardens", "mat"]
    assert loaded.search(queries, k=3) == index.search(queries, k=3)


@pytest.mark.parametrize("stemmer", [None, "english"])
def test_query_terms_are_what_bm25s_makes_of_the_corpus(stemmer: str | None) -> None:
    import bm25s

    texts = ["The Mice's inhibition inhibits café-au-lait SIGNALLING, x y 42 ab_cd", "naïve Über straße 日本語 テキスト",
             "don't stop-words: the, a, of! running runners ran", "   ", "émoji 🙂 and tabs\tnew\nlines"]
    index = BM25Index.from_texts(["a", "b"], ["seed text", "more words"], BM25Config(stemmer=stemmer))
    expected = bm25s.tokenize(texts, stopwords="en", stemmer=index._stemmer, return_ids=False, show_progress=False)
    assert [index._terms(t) for t in texts] == [[w for w in ws if w] for ws in expected]


def test_a_saved_index_loads_and_searches_without_bm25s(tmp_path) -> None:
    import subprocess
    import sys

    index = BM25Index.from_texts(["a", "b", "c"], ["cats purr softly", "dogs bark loudly", "cats and dogs play"])
    index.save(tmp_path / "bm25")
    code = (
        "import sys; from sbert_rag.retrieval.bm25 import BM25Index; "
        f"hits = BM25Index.load({str(tmp_path / 'bm25')!r}).search(['purring cats'], 3)[0]; "
        "print([h.id for h in hits], 'bm25s' in sys.modules, 'scipy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "['a', 'c'] False False"
    assert [h.id for h in index.search(["purring cats"], 3)[0]] == ["a", "c"]
