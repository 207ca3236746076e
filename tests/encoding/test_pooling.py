"""Pooling on hand-computed tensors: padded positions (holding 100) must never count."""

from __future__ import annotations

import math

import pytest
import torch

from sbert_rag.config import PoolingMode
from sbert_rag.encoding.pooling import parse_modes, pool
from sbert_rag.errors import ConfigError

# Two texts, 3 positions, hidden 2. Text 0 has 2 real tokens; its padded slot holds 100.
HIDDEN = torch.tensor(
    [
        [[1.0, 2.0], [3.0, -4.0], [100.0, 100.0]],
        [[2.0, 0.0], [4.0, 6.0], [-3.0, 3.0]],
    ]
)
MASK = torch.tensor([[1, 1, 0], [1, 1, 1]])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("cls", [[1.0, 2.0], [2.0, 0.0]]),
        ("mean", [[2.0, -1.0], [1.0, 3.0]]),
        ("max", [[3.0, 2.0], [4.0, 6.0]]),
        ("mean_sqrt_len_tokens", [[4.0 / math.sqrt(2), -2.0 / math.sqrt(2)], [3.0 / math.sqrt(3), 9.0 / math.sqrt(3)]]),
        # weights 1, 2 (, 3): text 0 -> (1*[1,2] + 2*[3,-4]) / 3; text 1 -> (1*[2,0]+2*[4,6]+3*[-3,3]) / 6
        ("weightedmean", [[7.0 / 3, -6.0 / 3], [1.0 / 6, 21.0 / 6]]),
        ("lasttoken", [[3.0, -4.0], [-3.0, 3.0]]),
    ],
)
def test_pool_hand_computed_values_ignore_padding(mode: str, expected: list[list[float]]) -> None:
    out = pool(HIDDEN, MASK, parse_modes(mode))
    torch.testing.assert_close(out, torch.tensor(expected), rtol=1e-6, atol=1e-6)


def test_pool_single_token_row_with_padding_value_100() -> None:
    hidden = torch.tensor([[[5.0], [100.0], [100.0]]])  # 1 x 3 x 1, two padded slots
    mask = torch.tensor([[1, 0, 0]])
    for mode in PoolingMode:
        assert pool(hidden, mask, (mode,)).item() == pytest.approx(5.0), mode


def test_pool_concatenates_several_modes_in_order() -> None:
    out = pool(HIDDEN, MASK, parse_modes(["cls", "mean"]))
    assert out.shape == (2, 4)
    torch.testing.assert_close(out[0], torch.tensor([1.0, 2.0, 2.0, -1.0]))


def test_pool_exclude_first_leaves_prompt_out() -> None:
    out = pool(HIDDEN, MASK, (PoolingMode.MEAN,), exclude_first=1)
    torch.testing.assert_close(out, torch.tensor([[3.0, -4.0], [0.5, 4.5]]))


def test_pool_half_precision_accumulates_in_float32() -> None:
    out = pool(HIDDEN.to(torch.bfloat16), MASK, (PoolingMode.MEAN,))
    assert out.dtype == torch.float32


def test_parse_modes_rejects_unknown_mode_listing_valid_ones() -> None:
    with pytest.raises(ConfigError, match="'cls'.*'lasttoken'"):
        parse_modes("median")
    assert parse_modes("last_token") == (PoolingMode.LAST_TOKEN,)
    assert parse_modes("weighted_mean") == (PoolingMode.WEIGHTED_MEAN,)
