from __future__ import annotations

import numpy as np
import pytest

from sbert_rag.errors import ConfigError, InvalidInputError, ModelLoadError
from sbert_rag.retrieval import DenseIndex


def _brute_force(queries: np.ndarray, matrix: np.ndarray, k: int) -> list[list[int]]:
    scores = queries @ matrix.T
    return [sorted(range(len(row)), key=lambda i: (-row[i], i))[:k] for row in scores]


def test_search_hand_made_cosine() -> None:
    index = DenseIndex(2)
    index.add(["east", "north", "northeast"], [[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    (hits,) = index.search([[1.0, 0.2]], k=3)
    assert [h.id for h in hits] == ["east", "northeast", "north"]
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].score == pytest.approx(1 / np.sqrt(1.04), abs=1e-6)
    assert all(h.source == "dense" for h in hits)


def test_search_dot_uses_raw_vectors() -> None:
    index = DenseIndex(2, metric="dot")
    index.add(["short", "long"], [[1.0, 0.0], [0.5, 5.0]])
    (hits,) = index.search([[1.0, 1.0]], k=2)
    assert [(h.id, h.score) for h in hits] == [("long", 5.5), ("short", 1.0)]


@pytest.mark.parametrize("block_size", [1, 7, 64, 10_000])
@pytest.mark.parametrize("query_batch", [1, 5, 256])
def test_search_blockwise_matches_brute_force(block_size: int, query_batch: int) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(97, 8)).astype(np.float32)
    queries = rng.normal(size=(11, 8)).astype(np.float32)
    index = DenseIndex(8, metric="dot")
    index.add([f"p{i}" for i in range(97)], vectors)
    results = index.search(queries, k=10, block_size=block_size, query_batch=query_batch)
    expected = _brute_force(queries, vectors, 10)
    assert [[h.id for h in hits] for hits in results] == [[f"p{i}" for i in row] for row in expected]


def test_search_ties_keep_insertion_order() -> None:
    index = DenseIndex(2)
    index.add(["b", "a", "c"], [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    (hits,) = index.search([[1.0, 0.0]], k=2, block_size=1)
    assert [h.id for h in hits] == ["b", "a"]


def test_add_in_several_calls_and_save_load_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(1)
    index = DenseIndex(4)
    index.add(["a", "b"], rng.normal(size=(2, 4)))
    index.add(["c"], rng.normal(size=(1, 4)))
    queries = rng.normal(size=(3, 4))
    before = index.search(queries, k=3)
    loaded = DenseIndex.load(index.save(tmp_path / "idx"))
    assert loaded.ids == ("a", "b", "c") and loaded.metric == index.metric
    np.testing.assert_array_equal(loaded.vectors, index.vectors)
    assert loaded.search(queries, k=3) == before
    np.testing.assert_allclose(np.linalg.norm(loaded.vectors, axis=1), 1.0, rtol=1e-6)


def test_load_missing_file_names_it(tmp_path) -> None:
    index = DenseIndex(2)
    index.add(["a"], [[1.0, 0.0]])
    folder = index.save(tmp_path / "idx")
    (folder / "vectors.npy").unlink()
    with pytest.raises(ModelLoadError, match="vectors.npy is missing"):
        DenseIndex.load(folder)


def test_search_errors() -> None:
    index = DenseIndex(2)
    with pytest.raises(InvalidInputError, match="index is empty"):
        index.search([[1.0, 0.0]], k=1)
    index.add(["a", "b"], [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(InvalidInputError, match=r"k must be an integer in \[1, 2\].*got 3"):
        index.search([[1.0, 0.0]], k=3)
    with pytest.raises(InvalidInputError, match=r"k must be"):
        index.search([[1.0, 0.0]], k=0)
    with pytest.raises(InvalidInputError, match=r"shape \(n, 2\); got \(2,\)"):
        index.search([1.0, 0.0], k=1)
    with pytest.raises(InvalidInputError, match="NaN"):
        index.search([[np.nan, 0.0]], k=1)


def test_add_errors_leave_index_unchanged() -> None:
    index = DenseIndex(2)
    index.add(["a"], [[1.0, 0.0]])
    with pytest.raises(InvalidInputError, match="'a' at index 1 is already in the index"):
        index.add(["b", "a"], [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(InvalidInputError, match="'c' at index 1 repeats index 0"):
        index.add(["c", "c"], [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(InvalidInputError, match="2 ids but 1 vectors"):
        index.add(["x", "y"], [[1.0, 0.0]])
    with pytest.raises(InvalidInputError, match="all zeros"):
        index.add(["z"], [[0.0, 0.0]])
    with pytest.raises(InvalidInputError, match="non-empty string"):
        index.add([""], [[1.0, 0.0]])
    assert index.ids == ("a",) and index.vectors.shape == (1, 2)


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="metric must be one of 'cosine', 'dot'"):
        DenseIndex(2, metric="l2")
    with pytest.raises(ConfigError, match="dim must be"):
        DenseIndex(0)
