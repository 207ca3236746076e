"""Training examples, loaders and batching with a guard against repeated texts in one batch.

Owns the example types (pairs, triplets and (anchor, positive, negatives...) tuples as one
``RetrievalExample``; ``ScoredPair`` for STS scores and 0/1 labels), loaders from the BEIR layout
(queries + qrels + corpus), the STS Benchmark layout and one-text-per-line files, and seeded
batch samplers. A text that appears twice in one batch of a ranking loss is a false in-batch
negative (two queries citing one abstract would be taught to tell it apart from itself), so
``NoDuplicatesBatchSampler`` never builds such a batch and ``check_no_duplicates`` refuses one.
Deliberately no tokenisation (``towers.py``) and no torch: examples are plain strings.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.evaluation.beir import RetrievalSet
from sbert_rag.evaluation.sts import read_sts

T = TypeVar("T")


@dataclass(frozen=True)
class RetrievalExample:
    """An anchor, its positive and optional hard negatives: a pair, a triplet or an n-tuple.

    Attributes:
        anchor: the query side text.
        positive: a relevant passage.
        negatives: hard negatives (passages that look relevant but are not).
        anchor_id: id of the anchor (query id), for bookkeeping; "" when unknown.
        positive_id: id of the positive (document id); "" when unknown.
        negative_ids: ids of the negatives, same order; empty when unknown.
    """

    anchor: str
    positive: str
    negatives: tuple[str, ...] = ()
    anchor_id: str = ""
    positive_id: str = ""
    negative_ids: tuple[str, ...] = ()

    def texts(self) -> tuple[str, ...]:
        """Every text of the example: anchor, positive, negatives."""
        return (self.anchor, self.positive, *self.negatives)

    def passages(self) -> tuple[str, ...]:
        """The passage-side texts (positive and negatives): the candidates of a ranking loss."""
        return (self.positive, *self.negatives)


@dataclass(frozen=True)
class ScoredPair:
    """Two texts with a gold similarity score (STS, 0-5) or a 0/1 label (contrastive)."""

    first: str
    second: str
    score: float


def document_text(title: str, text: str) -> str:
    """A document as the models see it: ``title + " " + text`` (as the retrieval evaluation joins them)."""
    return f"{title} {text}".strip()


def retrieval_examples(
    dataset: RetrievalSet, negatives: Mapping[str, Sequence[str]] | None = None
) -> list[RetrievalExample]:
    """One example per (query, relevant document) of a BEIR split, with mined negatives if given.

    Args:
        dataset: a loaded split (``evaluation.load_beir``).
        negatives: query id -> negative document ids (from ``mining.mine_hard_negatives``); every
            example of a query gets the same negatives.

    Returns:
        Examples in qrels order; documents with relevance <= 0 are not positives.

    Raises:
        InvalidInputError: a negative id is not in the corpus, or is a positive of its query.
    """
    out: list[RetrievalExample] = []
    for qid, judged in dataset.qrels.items():
        positives = [d for d, grade in judged.items() if grade > 0]
        neg_ids = tuple((negatives or {}).get(qid, ()))
        for nid in neg_ids:
            if nid not in dataset.corpus:
                raise InvalidInputError(f"negative {nid!r} of query {qid!r} is not in the corpus")
            if judged.get(nid, 0) > 0:
                raise InvalidInputError(f"negative {nid!r} of query {qid!r} is one of its positives; re-mine")
        neg_texts = tuple(document_text(dataset.corpus[n].title, dataset.corpus[n].text) for n in neg_ids)
        for pid in positives:
            doc = dataset.corpus[pid]
            out.append(
                RetrievalExample(
                    anchor=dataset.queries[qid], positive=document_text(doc.title, doc.text), negatives=neg_texts,
                    anchor_id=qid, positive_id=pid, negative_ids=neg_ids,
                )
            )
    if not out:
        raise InvalidInputError(f"split {dataset.split!r} has no relevant (score > 0) judgment to train on")
    return out


def load_sts_pairs(path: str | Path) -> list[ScoredPair]:
    """Scored pairs from an STS Benchmark file (score in column 5, sentences in 6 and 7).

    Raises:
        InvalidInputError: as ``evaluation.sts.read_sts`` (missing file, short line, bad score).
    """
    pairs = read_sts(path)
    return [ScoredPair(a, b, float(s)) for a, b, s in zip(pairs.first, pairs.second, pairs.scores)]


def read_texts(path: str | Path) -> list[str]:
    """Texts of a file with one text per line (UTF-8); the final newline is optional.

    Raises:
        InvalidInputError: the file is missing or empty, or a line is blank (named by number:
            remove it, a blank text has no embedding).
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"text file {str(p)!r} does not exist")
    lines = p.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            raise InvalidInputError(f"{str(p)!r} line {i} is blank; remove blank lines (one text per line)")
    if not lines:
        raise InvalidInputError(f"text file {str(p)!r} holds no texts")
    return lines


def find_duplicate(texts: Iterable[str]) -> tuple[int, int, str] | None:
    """First repeated text as (first position, second position, text), or None."""
    seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        if text in seen:
            return seen[text], i, text
        seen[text] = i
    return None


def check_no_duplicates(batch: Sequence[RetrievalExample], include_anchors: bool = False) -> None:
    """Refuse a batch in which one passage-side text repeats (a false in-batch negative).

    Anchors may repeat (a query with two relevant documents) when only passages are candidates;
    pass ``include_anchors=True`` for a symmetric loss, where anchors are candidates too. A
    passage repeating across rows would be trained as a negative of itself.

    Args:
        batch: the examples of one batch.
        include_anchors: also require unique anchors.

    Raises:
        InvalidInputError: naming the two rows and the text; build batches with
            ``NoDuplicatesBatchSampler``.
    """
    owners: list[int] = []
    texts: list[str] = []
    for row, example in enumerate(batch):
        for text in example.texts() if include_anchors else example.passages():
            owners.append(row)
            texts.append(text)
    dup = find_duplicate(texts)
    if dup is not None:
        i, j, text = dup
        raise InvalidInputError(
            f"rows {owners[i]} and {owners[j]} of the batch share the passage {text[:60]!r}: it would be "
            f"trained as a negative of itself. Build batches with NoDuplicatesBatchSampler"
        )


class ShuffledBatchSampler(Generic[T]):
    """Seeded shuffled batches; epoch ``e`` always gives the same batches for one seed.

    Args:
        items: the examples.
        batch_size: examples per batch, >= 1; the last batch may be smaller.
        seed: shuffling seed.
        drop_last: drop a last batch smaller than ``batch_size``.
    """

    def __init__(self, items: Sequence[T], batch_size: int, seed: int = 0, drop_last: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1; got {batch_size!r}")
        if not items:
            raise InvalidInputError("no training examples; pass at least one")
        self.items = list(items)
        self.batch_size = batch_size
        self.seed = seed
        self.drop_last = drop_last

    def batches(self, epoch: int) -> list[list[T]]:
        """The batches of epoch ``epoch`` (0-based)."""
        order = list(self.items)
        random.Random(self.seed * 100_003 + epoch).shuffle(order)
        out = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and out and len(out[-1]) < self.batch_size:
            out.pop()
        return out


class NoDuplicatesBatchSampler(ShuffledBatchSampler[RetrievalExample]):
    """Seeded batches in which no passage-side text appears twice (see ``check_no_duplicates``).

    Fills each batch in shuffled order, deferring an example whose positive or negative is
    already in the batch to a later batch. Every example is used once per epoch; the last
    batches may be smaller when many examples share passages.

    Args:
        items: the examples.
        batch_size: examples per batch, >= 1.
        seed: shuffling seed.
        drop_last: drop batches smaller than ``batch_size`` at the end.
        texts_of: the texts that must be unique within a batch; default the passage side.
    """

    def __init__(
        self,
        items: Sequence[RetrievalExample],
        batch_size: int,
        seed: int = 0,
        drop_last: bool = False,
        texts_of: Callable[[RetrievalExample], Iterable[str]] = RetrievalExample.passages,
    ) -> None:
        super().__init__(items, batch_size, seed, drop_last)
        self.texts_of = texts_of

    def batches(self, epoch: int) -> list[list[RetrievalExample]]:
        """The batches of epoch ``epoch`` (0-based), free of repeated texts."""
        pending = list(self.items)
        random.Random(self.seed * 100_003 + epoch).shuffle(pending)
        out: list[list[RetrievalExample]] = []
        while pending:
            batch: list[RetrievalExample] = []
            seen: set[str] = set()
            rest: list[RetrievalExample] = []
            for example in pending:
                texts = set(self.texts_of(example))
                if len(batch) < self.batch_size and not texts & seen:
                    batch.append(example)
                    seen |= texts
                else:
                    rest.append(example)
            out.append(batch)
            pending = rest
        if self.drop_last:
            out = [b for b in out if len(b) == self.batch_size]
        return out
