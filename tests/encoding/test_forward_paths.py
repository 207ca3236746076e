"""TextEncoder.forward_path, and the three forwards (masked, packed, numpy) giving the same vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sbert_rag import TextEncoder
from sbert_rag.encoding.packed import NUMPY_MAX_TOKENS

# 3 to 31 tokens, several of one length (runs of more than one row in the packed forward).
MIXED = [
    "cat",
    "a small blue house with a green tree and a big dog that runs in the house by the car and the red bird "
    "eats fish from the tree",
    "the dog runs",
    "the cat sits",
    "hello world",
    "red bird and blue fish in a big green tree",
    "dog",
]
POOLINGS = ["mean", "cls", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken", ("mean", "max")]


def _st_folder(tiny_bert_dir: Path, folder: Path, pooling: object, include_prompt: bool) -> Path:
    """A sentence-transformers folder of the tiny BERT with this pooling and include_prompt."""
    enc = TextEncoder.from_pretrained(tiny_bert_dir, pooling=pooling, normalize=False, device="cpu", dtype="float32")
    out = enc.save(folder)
    config_file = out / "1_Pooling" / "config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "include_prompt": include_prompt}))
    return out


@pytest.mark.parametrize("include_prompt", [True, False])
@pytest.mark.parametrize("pooling", POOLINGS, ids=str)
def test_every_path_gives_the_same_vectors(
    tiny_bert_dir: Path, tmp_path: Path, load_every_path, pooling: object, include_prompt: bool
) -> None:
    folder = _st_folder(tiny_bert_dir, tmp_path / "st", pooling, include_prompt)
    encoders = load_every_path(folder, query_prompt="query: the ")
    assert [enc.forward_path for enc in encoders.values()] == ["masked", "packed", "numpy+packed"]
    lengths = encoders["masked"].count_tokens(MIXED, role="query")
    assert max(lengths) >= 5 * min(lengths) and sum(lengths) <= NUMPY_MAX_TOKENS  # padded, and small enough for numpy
    for role in ("query", "passage"):  # with a prompt (excluded from pooling unless include_prompt), without one
        out = {path: enc.encode(MIXED, role=role, batch_size=len(MIXED)) for path, enc in encoders.items()}
        for path in ("packed", "numpy"):
            np.testing.assert_allclose(out[path], out["masked"], atol=1e-5, err_msg=f"{path} vs masked, {role}")
    assert encoders["numpy"]._module is None  # every numpy call ran numpy: no torch module was loaded


def test_forward_path_follows_the_load_options(tiny_bert_dir: Path) -> None:
    common = {"pooling": "mean", "device": "cpu"}
    free = TextEncoder.from_pretrained(tiny_bert_dir, dtype="float32", **common)
    assert free.forward_path == "numpy+packed" and free.uses_packed()
    assert free.module is not None  # loading the torch module ends the numpy forward
    assert free.forward_path == "packed" and free.uses_packed()
    for options, path in (({"dtype": "float32", "packed": True}, "packed"), ({"dtype": "bfloat16"}, "packed"),
                          ({"dtype": "float32", "packed": False}, "masked"), ({"dtype": "bfloat16", "packed": False}, "masked"),
                          ({"dtype": "float16"}, "masked")):  # auto: packed on CPU in bf16 and fp32 only
        enc = TextEncoder.from_pretrained(tiny_bert_dir, **common, **options)
        assert enc.forward_path == path, options
        assert enc.uses_packed() == (path == "packed"), options


def test_training_mode_runs_the_masked_forward_whatever_the_path(tiny_bert_dir: Path) -> None:
    enc = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu", dtype="float32", packed=True)
    enc.module.train()
    assert enc.forward_path == "packed" and not enc.uses_packed()
    enc.module.eval()
    assert enc.uses_packed()
