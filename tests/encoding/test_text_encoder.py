"""TextEncoder on a tiny random BERT: invariants, prompts, overflow policies, errors.

Tests whose result depends on the forward run once per forward path (``path_encoder`` and
``load_on_path`` of tests/encoding/conftest.py: masked, packed, numpy); the others use the default.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sbert_rag import DualEncoder, InputTooLongError, InvalidInputError, TextEncoder
from sbert_rag.encoding.tokenize import TruncationWarning
from sbert_rag.errors import ConfigError

TEXTS = ["the cat sits on the house", "a dog", "red bird and blue fish in a big green tree", "hello world"]
# Lengths from 3 to 31 tokens: in one batch the short rows carry many padded positions.
MIXED = [
    "cat",
    "a small blue house with a green tree and a big dog that runs in the house by the car and the red bird "
    "eats fish from the tree",
    "a dog",
    "the cat sits on the house",
    "red bird and blue fish in a big green tree",
]


def test_encode_shape_dtype_and_unit_norm(path_encoder: TextEncoder) -> None:
    out = path_encoder.encode(TEXTS)
    assert out.shape == (4, 32) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)


def test_text_alone_equals_text_in_padded_batch(path_encoder: TextEncoder) -> None:
    lengths = path_encoder.count_tokens(MIXED)
    assert max(lengths) >= 5 * min(lengths)  # one batch, mostly padding for the short rows
    batch = path_encoder.encode(MIXED, batch_size=len(MIXED))
    for i, text in enumerate(MIXED):
        alone = path_encoder.encode([text])
        np.testing.assert_allclose(alone[0], batch[i], atol=1e-5)


def test_shuffled_inputs_give_shuffled_outputs(path_encoder: TextEncoder) -> None:
    out = path_encoder.encode(MIXED, batch_size=2)
    perm = [2, 0, 4, 3, 1]
    shuffled = path_encoder.encode([MIXED[i] for i in perm], batch_size=3)
    np.testing.assert_allclose(shuffled, out[perm], atol=1e-5)


def test_iterable_and_generator_inputs(tiny_encoder: TextEncoder) -> None:
    np.testing.assert_allclose(tiny_encoder.encode(t for t in TEXTS), tiny_encoder.encode(TEXTS), atol=1e-6)
    np.testing.assert_allclose(tiny_encoder.encode(tuple(TEXTS)), tiny_encoder.encode(TEXTS), atol=1e-6)


def test_empty_list_gives_zero_rows(tiny_encoder: TextEncoder) -> None:
    out = tiny_encoder.encode([])
    assert out.shape == (0, 32) and out.dtype == np.float32


@pytest.mark.parametrize(
    ("texts", "match"),
    [
        (["ok", ""], "input 1 is empty"),
        (["ok", "  \n\t"], "input 1 is empty or whitespace-only"),
        ([None], "input 0 is None"),
        (["ok", "fine", 3], "input 2 is a int, not a string"),
        ("just one string", "wrap it in a list"),
        (b"bytes", "wrap it in a list"),
    ],
)
def test_bad_inputs_name_the_index(tiny_encoder: TextEncoder, texts, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        tiny_encoder.encode(texts)


def test_query_errors_say_query(tiny_encoder: TextEncoder) -> None:
    with pytest.raises(InvalidInputError, match="query 0 is None"):
        tiny_encoder.encode_queries([None])


def test_prompts_change_query_vectors(load_on_path) -> None:
    enc = load_on_path(pooling="mean", query_prompt="query: ", passage_prompt="passage: ")
    q = enc.encode_queries(TEXTS)
    p = enc.encode_passages(TEXTS)
    plain = enc.encode(TEXTS)
    assert not np.allclose(q, p, atol=1e-3)
    assert not np.allclose(q, plain, atol=1e-3)
    np.testing.assert_allclose(q, enc.encode(TEXTS, prompt="query: "), atol=1e-6)
    # an explicit empty prompt switches the role's prompt off
    np.testing.assert_allclose(enc.encode(TEXTS, role="query", prompt=""), plain, atol=1e-6)
    assert enc.count_tokens(["a"], role="query") == [len(enc.tokenizer("query: a")["input_ids"])]


def test_overflow_warn_truncates_once_per_call_with_report(path_encoder: TextEncoder) -> None:
    long = " ".join(["cat"] * 100)  # 102 tokens with [CLS]/[SEP], limit 64
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = path_encoder.encode_with_report(["a dog", long, long + " dog"])
    msgs = [w for w in caught if issubclass(w.category, TruncationWarning)]
    assert len(msgs) == 1
    text = str(msgs[0].message)
    assert "2 of 3" in text and "indices: 1, 2" in text and "64 tokens" in text
    assert result.report.truncated == (1, 2)
    assert result.report.token_counts[1] == 102 and result.report.limit == 64
    assert path_encoder.last_report == result.report
    assert result.report.tokens_lost == (102 - 64) + (103 - 64)
    # truncation keeps the first 62 content tokens: same vector as the pre-cut text
    cut = " ".join(["cat"] * 62)
    np.testing.assert_allclose(result.embeddings[1], path_encoder.encode([cut])[0], atol=1e-5)
    # the short input, padded to 64 in the batch, is unaffected by its long neighbours
    np.testing.assert_allclose(result.embeddings[0], path_encoder.encode(["a dog"])[0], atol=1e-5)


def test_no_warning_when_everything_fits(tiny_encoder: TextEncoder) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = tiny_encoder.encode_with_report(TEXTS)
    assert result.report.truncated == () and result.report.overflowed == ()


def test_overflow_error_names_index_length_and_limit(tiny_encoder: TextEncoder) -> None:
    long = " ".join(["dog"] * 70)
    with pytest.raises(InputTooLongError, match="input 1 has 72 tokens .* at most 64") as info:
        tiny_encoder.encode(["a cat", long], overflow="error")
    assert (info.value.index, info.value.length, info.value.limit) == (1, 72, 64)


def test_overflow_windows_keeps_everything(load_on_path) -> None:
    enc = load_on_path(pooling="mean", normalize=True, overflow="windows", window_overlap_tokens=8)
    words = ["cat", "dog", "bird", "fish", "tree", "car"]
    long = " ".join(words[i % 6] for i in range(150))
    res = enc.encode_with_report(["a dog", long])
    n_windows = res.report.windowed[1]
    assert n_windows == 3  # 150 content tokens, windows of 62 with overlap 8: starts 0, 54, 108
    assert res.report.truncated == ()
    # the window vector is the token-weighted mean of the window vectors
    ids = enc.tokenizer(long, add_special_tokens=False)["input_ids"]
    pieces = [ids[s : s + 62] for s in (0, 54, 108)]
    texts = [enc.tokenizer.decode(p) for p in pieces]
    raw = load_on_path(pooling="mean", normalize=False).encode(texts)
    expected = (raw * np.array([[len(p)] for p in pieces])).sum(0)
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(res.embeddings[1], expected, atol=1e-5)
    # the short input is unaffected by its long neighbour
    np.testing.assert_allclose(res.embeddings[0], enc.encode(["a dog"])[0], atol=1e-5)


@pytest.mark.parametrize("forward_path", ["masked", "packed"])  # the numpy forward runs float32 only
def test_bfloat16_runs_close_to_float32(load_on_path) -> None:
    enc = load_on_path(pooling="mean", normalize=True, dtype="bfloat16")
    ref = load_on_path(pooling="mean", normalize=True)
    out = enc.encode(MIXED)
    assert out.dtype == np.float32
    assert ((out * ref.encode(MIXED)).sum(1) > 0.98).all()


def test_normalize_switch_and_pooling_override(load_on_path) -> None:
    raw = load_on_path(pooling="cls").encode(TEXTS)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    two = load_on_path(pooling=["cls", "max"])
    both = two.encode(MIXED)
    assert two.dim == 64 and both.shape == (5, 64)
    # the two halves are the cls and max vectors of the same texts
    np.testing.assert_allclose(both[:, :32], load_on_path(pooling="cls").encode(MIXED), atol=1e-5)
    np.testing.assert_allclose(both[:, 32:], load_on_path(pooling="max").encode(MIXED), atol=1e-5)


def test_plain_folder_needs_pooling(tiny_bert_dir) -> None:
    with pytest.raises(ConfigError, match="plain Hugging Face folder.*pass pooling='mean'"):
        TextEncoder.from_pretrained(tiny_bert_dir)


@pytest.mark.parametrize(("option", "value", "match"), [
    ("overflow", "drop", "overflow must be one of 'warn', 'error', 'windows'"),
    ("dtype", "int4", "dtype must be one of"),
    ("pooling", "median", "pooling must be one of"),
    ("max_tokens", 65, "exceeds the model's 64 position embeddings"),
    ("batch_size", 0, "batch_size must be an integer >= 1"),
    ("device", "gpu-please", "not a torch device"),
])
def test_bad_options_list_valid_values(tiny_bert_dir, option, value, match) -> None:
    kwargs = {"pooling": "mean", option: value}
    with pytest.raises(ConfigError, match=match):
        TextEncoder.from_pretrained(tiny_bert_dir, **kwargs)


def test_max_tokens_override_applies(tiny_bert_dir) -> None:
    enc = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", max_tokens=8, overflow="error", device="cpu", dtype="float32")
    with pytest.raises(InputTooLongError, match="at most 8"):
        enc.encode(["the cat sits on the big red house"])


def test_dual_encoder_routes_roles(load_on_path) -> None:
    q = load_on_path(pooling="cls")
    p = load_on_path(pooling="mean")
    dual = DualEncoder(q, p)
    np.testing.assert_allclose(dual.encode_queries(TEXTS), q.encode_queries(TEXTS), atol=1e-6)
    np.testing.assert_allclose(dual.encode_passages(TEXTS), p.encode_passages(TEXTS), atol=1e-6)
    assert dual.dim == 32 and dual.max_tokens == 64
    wide = load_on_path(pooling=["cls", "mean"])
    with pytest.raises(ConfigError, match="32-dim.*64"):
        DualEncoder(q, wide)


def test_token_offsets_locate_tokens(tiny_encoder: TextEncoder) -> None:
    text = "Red  cat, blue dog"
    spans = tiny_encoder.token_offsets(text)
    assert [text[s:e].lower() for s, e in spans][:2] == ["red", "cat"]
    assert tiny_encoder.count_tokens([text]) == [len(spans) + 2]
