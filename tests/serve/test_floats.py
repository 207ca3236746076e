"""Float lists of embeddings responses: each float32 comes back exactly, every number reads as a float."""

from __future__ import annotations

import base64
import json

import numpy as np

from sbert_rag.serve.floats import rows_json
from sbert_rag.serve.protocol import embeddings_body, embeddings_json

EDGES = [0.1, -0.5, 1e-5, 1.5e-5, 9.99999975e-05, 1e-4, 0.001, 1.17549435e-38, 1.4e-45, 3.4028235e38, 1e16, 120.0,
         5000000.5, 0.333333343, -2.5]


def float32_back(text: str) -> np.ndarray:
    return np.array(json.loads(text), dtype=np.float64).astype(np.float32)


def test_every_float32_comes_back_exactly_and_reads_as_a_float():
    rng = np.random.default_rng(0)
    normal = rng.standard_normal((64, 384)).astype(np.float32)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    # random bit patterns below 2^23 (where whole numbers are rare): every exponent, subnormals included
    bits = ((rng.integers(0, 2, (256, 64), dtype=np.uint32) << 31) | (rng.integers(0, 150, (256, 64), dtype=np.uint32)
            << 23) | rng.integers(0, 2**23, (256, 64), dtype=np.uint32))
    edges = np.array([EDGES, [-v for v in EDGES]], dtype=np.float32)
    whole = np.array([[0.0, 0.25, 1.0], [-0.0, 0.5, 3.0]], dtype=np.float32)  # rows with whole numbers
    for x in (normal, bits.view(np.float32), edges, whole):
        rows = rows_json(x)
        back = np.stack([float32_back(r) for r in rows])
        assert back.view(np.uint32).tolist() == x.view(np.uint32).tolist()  # bit for bit, -0.0 included
        for row in rows:
            assert all(isinstance(v, float) for v in json.loads(row)), row
    assert rows_json(np.array([[0.1, 1e-5, -0.5]], np.float32)) == ["[0.100000001, 9.99999975e-06, -0.5]"]
    assert rows_json(whole)[0] == "[0.0, 0.25, 1.0]"  # json.dumps' text, as before
    assert rows_json(np.zeros((2, 0), np.float32)) == ["[]", "[]"]


def test_response_bytes_match_the_json_dumps_layout():
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((5, 16)).astype(np.float32)
    ext = {"input_type": "passage", "max_tokens": 256, "truncated": [1], "windowed": []}
    for fmt in ("float", "base64"):
        got = embeddings_json(vectors, fmt, "modèle", 17, ext)
        want = json.dumps(embeddings_body(vectors, fmt, "modèle", 17, ext), ensure_ascii=False).encode()
        if fmt == "base64":
            assert got == want
            continue
        got_body, want_body = json.loads(got), json.loads(want)
        np.testing.assert_array_equal(np.array([d.pop("embedding") for d in got_body["data"]], np.float32), vectors)
        for d in want_body["data"]:
            d.pop("embedding")
        assert got_body == want_body
        assert got.startswith(b'{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [')
    one = json.loads(embeddings_json(vectors[:1], "base64", "m", 1, ext))["data"][0]["embedding"]
    assert np.frombuffer(base64.b64decode(one), "<f4").tolist() == vectors[0].tolist()
