"""Lexical search with BM25: ``bm25s`` behind our ``Hit`` type, with explicit tokenisation options.

Owns tokenising passages and queries the same way (lower-casing, a stopword list, an optional
Snowball stemmer from PyStemmer), building the index with ``bm25s`` (which scores every term of
every passage once), keeping its score arrays, and exact top-k and save/load over them with numpy
alone: a saved index loads (memory-mapped) and searches without importing ``bm25s`` or scipy.
``bm25s`` and ``Stemmer`` are imported on first use. Deliberately does not chunk text, fuse with
dense results, or change logging (``bm25s`` sets its own logger level at import; we leave it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sbert_rag._deps import require
from sbert_rag.errors import ConfigError, InvalidInputError, ModelLoadError
from sbert_rag.types import Hit

FORMAT_VERSION = 2
_WORD = re.compile(r"(?u)\b\w\w+\b")  # bm25s's (and scikit-learn's) token pattern
_METHODS = ("lucene", "robertson", "atire", "bm25l", "bm25+")
_STOPWORDS = ("en", "english", "en_plus", "english_plus", "de", "nl", "fr", "es", "pt", "it", "ru",
              "sv", "no", "zh", "tr", "ko", "da")


@dataclass(frozen=True)
class BM25Config:
    """Tokenisation and scoring options of a BM25 index.

    Attributes:
        stopwords: a ``bm25s`` stopword list name (``"en"``, ``"de"``, ...) or ``None`` for none.
        stemmer: a Snowball language for PyStemmer (``"english"``, ...) or ``None`` for no stemming.
            English stemming is the default: on SciFact dev it lifts nDCG@10 from 66.93 to 71.15.
        k1: term-frequency saturation.
        b: length normalisation, in [0, 1].
        method: ``bm25s`` variant: ``lucene`` (default), ``robertson``, ``atire``, ``bm25l``, ``bm25+``.
    """

    stopwords: str | None = "en"
    stemmer: str | None = "english"
    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"

    def __post_init__(self) -> None:
        if self.stopwords is not None and self.stopwords not in _STOPWORDS:
            raise ConfigError(f"stopwords must be None or one of {', '.join(_STOPWORDS)}; got {self.stopwords!r}")
        if self.method not in _METHODS:
            raise ConfigError(f"method must be one of {', '.join(_METHODS)}; got {self.method!r}")
        if not self.k1 > 0 or not 0 <= self.b <= 1:
            raise ConfigError(f"k1 must be > 0 and b in [0, 1]; got k1={self.k1!r}, b={self.b!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BM25Config:
        """Build from a dict, rejecting unknown keys by name."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown BM25Config keys: {', '.join(sorted(unknown))}")
        return cls(**data)


class BM25Index:
    """BM25 over string ids, built once from texts.

    Example:
        >>> index = BM25Index.from_texts(ids, texts, BM25Config(stopwords="en", stemmer="english"))
        >>> hits = index.search(["what causes x"], k=10)[0]
    """

    def __init__(self, config: BM25Config | None = None) -> None:
        """Create an empty index; fill it with ``index`` (or use ``from_texts``)."""
        self.config = config or BM25Config()
        self._ids: list[str] = []
        self._vocab: dict[str, int] = {}
        self._matrix: dict[str, np.ndarray] = {}  # term-major sparse scores: data, indices, indptr
        self._stopwords: frozenset[str] = frozenset()
        self._stemmer: Any = None
        if self.config.stemmer is not None:
            stemmer_module = require("Stemmer", "sbert-rag[bm25]")
            try:
                self._stemmer = stemmer_module.Stemmer(self.config.stemmer)
            except KeyError as err:
                raise ConfigError(
                    f"unknown stemmer language {self.config.stemmer!r}; choose one of "
                    f"{', '.join(stemmer_module.algorithms())}"
                ) from err

    @classmethod
    def from_texts(cls, ids: Sequence[str], texts: Sequence[str], config: BM25Config | None = None) -> BM25Index:
        """Build an index over ``texts`` (see ``index``)."""
        index = cls(config)
        index.index(ids, texts)
        return index

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> tuple[str, ...]:
        """Passage ids in index order."""
        return tuple(self._ids)

    def index(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Index passages, replacing any previous content.

        Args:
            ids: unique non-empty string ids.
            texts: one non-blank text per id.

        Raises:
            InvalidInputError: the corpus is empty, lengths differ, an id is empty or repeats, or a
                text is blank.
        """
        ids, texts = list(ids), list(texts)
        if not ids:
            raise InvalidInputError("cannot build a BM25 index from an empty corpus; pass at least one text")
        if len(ids) != len(texts):
            raise InvalidInputError(f"got {len(ids)} ids but {len(texts)} texts; pass one id per text")
        seen: dict[str, int] = {}
        for i, (pid, text) in enumerate(zip(ids, texts)):
            if not isinstance(pid, str) or not pid:
                raise InvalidInputError(f"id at index {i} must be a non-empty string, got {pid!r}")
            if pid in seen:
                raise InvalidInputError(f"id {pid!r} at index {i} repeats index {seen[pid]}; ids must be unique")
            seen[pid] = i
            if not isinstance(text, str) or not text.strip():
                raise InvalidInputError(f"text of id {pid!r} (index {i}) is empty or blank; drop it or fill it")
        bm25s = require("bm25s")
        retriever = bm25s.BM25(k1=self.config.k1, b=self.config.b, method=self.config.method)
        self._stopwords = frozenset(bm25s.tokenization._infer_stopwords(self.config.stopwords or []))
        tokens = bm25s.tokenize(texts, stopwords=sorted(self._stopwords), stemmer=self._stemmer,
                                return_ids=False, show_progress=False)
        retriever.index(tokens, show_progress=False)
        # bm25s computes every (term, passage) score once; keep its arrays, so searching and
        # loading need numpy only (importing bm25s and scipy costs a cold search about a second)
        matrix = {name: np.asarray(retriever.scores[name]) for name in ("data", "indices", "indptr")}
        if retriever.nonoccurrence_array is not None:  # bm25l, bm25+: a score for absent terms
            matrix["nonoccurrence"] = np.asarray(retriever.nonoccurrence_array)
        self._matrix, self._vocab, self._ids = matrix, dict(retriever.vocab_dict), ids

    def search(self, queries: Sequence[str], k: int, *, allow_no_match: bool = False) -> list[list[Hit]]:
        """Return up to ``k`` passages per query, by BM25 score.

        Only passages with a positive score (sharing a term with the query) are hits, so a list
        may hold fewer than ``k``.

        Args:
            queries: query texts.
            k: most hits per query, 1 <= k <= len(self).
            allow_no_match: give an empty list for a query none of whose terms is in the index,
                instead of raising (a hybrid retriever then relies on its dense side).

        Returns:
            One list of hits per query, best first; ties keep index order.

        Raises:
            InvalidInputError: the index is empty, ``k`` is out of range, a query is blank, or (unless
                ``allow_no_match``) a query has no term known to the index.
        """
        n = len(self)
        if n == 0:
            raise InvalidInputError("the BM25 index is empty; call index(ids, texts) before searching")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
            raise InvalidInputError(
                f"k must be an integer in [1, {n}] (the index holds {n} passages); got {k!r}. Pass k <= {n}."
            )
        queries = list(queries)
        for i, query in enumerate(queries):
            if not isinstance(query, str) or not query.strip():
                raise InvalidInputError(f"query {i} is empty or blank: {query!r}")
        results: list[list[Hit]] = []
        for i, query in enumerate(queries):
            # repeated query terms count once per occurrence, as in bm25s.retrieve
            token_ids = [self._vocab[t] for t in self._terms(query) if t in self._vocab]
            if not token_ids:
                if allow_no_match:
                    results.append([])
                    continue
                raise InvalidInputError(
                    f"query {i} ({queries[i]!r}) has no term known to the BM25 index after lower-casing, "
                    f"stopword removal ({self.config.stopwords}) and stemming ({self.config.stemmer}). "
                    f"Rephrase it, or pass allow_no_match=True to get no hits for it."
                )
            results.append(self._top_k(self._scores(token_ids), k))
        return results

    def save(self, folder: str | Path) -> Path:
        """Write ``config.json``, ``ids.json``, ``vocab.json`` and the score arrays into ``folder``.

        Raises:
            InvalidInputError: the index is empty.
        """
        if not self._ids:
            raise InvalidInputError("the BM25 index is empty; nothing to save")
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        config = {"format_version": FORMAT_VERSION, "component": "BM25Index", **asdict(self.config),
                  "stopword_list": sorted(self._stopwords)}
        (path / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        (path / "ids.json").write_text(json.dumps(self._ids), encoding="utf-8")
        (path / "vocab.json").write_text(json.dumps(self._vocab), encoding="utf-8")
        for name, array in self._matrix.items():
            np.save(path / f"{name}.npy", array, allow_pickle=False)
        return path

    @classmethod
    def load(cls, folder: str | Path) -> BM25Index:
        """Load an index written by ``save`` (numpy only; the score arrays are memory-mapped).

        Raises:
            ModelLoadError: a file is missing or the folder holds another component or format.
        """
        path = Path(folder)
        for name in ("config.json", "ids.json", "vocab.json", "data.npy", "indices.npy", "indptr.npy"):
            if not (path / name).exists():
                raise ModelLoadError(f"{path} is not a saved BM25Index format {FORMAT_VERSION}: {name} is missing")
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        if config.pop("component", None) != "BM25Index" or config.pop("format_version", None) != FORMAT_VERSION:
            raise ModelLoadError(f"{path / 'config.json'} is not a BM25Index format {FORMAT_VERSION} config")
        stopwords = config.pop("stopword_list", [])
        index = cls(BM25Config.from_dict(config))
        index._stopwords = frozenset(stopwords)
        index._ids = json.loads((path / "ids.json").read_text(encoding="utf-8"))
        index._vocab = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
        names = ["data", "indices", "indptr"] + (["nonoccurrence"] if (path / "nonoccurrence.npy").exists() else [])
        index._matrix = {name: np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in names}
        return index

    def _terms(self, text: str) -> list[str]:
        """The index terms of a query, exactly as ``bm25s.tokenize`` makes them for the corpus:
        lower-cased words of two or more word characters, stopwords dropped, then stemmed."""
        words = [w for w in _WORD.findall(text.lower()) if w not in self._stopwords]
        return list(self._stemmer.stemWords(words)) if self._stemmer is not None and words else words

    def _scores(self, token_ids: list[int]) -> np.ndarray:
        """BM25 score of every passage for the query terms ``token_ids`` (a term repeated counts again)."""
        data, indices, indptr = self._matrix["data"], self._matrix["indices"], self._matrix["indptr"]
        scores = np.zeros(len(self._ids), dtype=np.float32)  # (n,)
        for term in token_ids:
            np.add.at(scores, indices[indptr[term]:indptr[term + 1]], data[indptr[term]:indptr[term + 1]])
        if "nonoccurrence" in self._matrix:
            scores += self._matrix["nonoccurrence"][token_ids].sum()
        return scores

    def _top_k(self, scores: np.ndarray, k: int) -> list[Hit]:
        take = min(k, int(np.count_nonzero(scores > 0)))
        if take == 0:
            return []
        part = np.argpartition(-scores, take - 1)[:take]
        order = np.lexsort((part, -scores[part]))
        return [
            Hit(id=self._ids[j], score=float(scores[j]), rank=r + 1, source="bm25")
            for r, j in enumerate(part[order])
        ]
