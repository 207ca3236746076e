"""Layer-subset students and projections on the tiny BERT."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sbert_rag import TextEncoder  # noqa: E402
from sbert_rag.errors import ConfigError  # noqa: E402
from sbert_rag.training.distill import attach_projection, layer_subset_student, spread_layers  # noqa: E402


def test_spread_layers() -> None:
    assert spread_layers(6, 3) == [0, 2, 5]
    assert spread_layers(12, 4) == [0, 4, 7, 11]
    assert spread_layers(6, 1) == [5]
    with pytest.raises(ConfigError, match="between 1 and 6"):
        spread_layers(6, 7)


def test_student_keeps_layers_saves_and_loads(tiny_encoder, tmp_path) -> None:
    student = layer_subset_student(tiny_encoder, [1])
    assert len(student.module.transformer.encoder.layer) == 1
    assert len(tiny_encoder.module.transformer.encoder.layer) == 2  # teacher untouched
    torch.testing.assert_close(student.module.transformer.encoder.layer[0].output.dense.weight,
                               tiny_encoder.module.transformer.encoder.layer[1].output.dense.weight)
    student.save(tmp_path / "s")
    loaded = TextEncoder.from_pretrained(tmp_path / "s", device="cpu", dtype="float32")
    np.testing.assert_allclose(loaded.encode(["the cat sits"]), student.encode(["the cat sits"]), atol=1e-6)
    with pytest.raises(ConfigError, match="distinct"):
        layer_subset_student(tiny_encoder, [0, 0])


def test_projection_is_saved_as_a_dense_stage(tiny_encoder, tmp_path) -> None:
    student = layer_subset_student(tiny_encoder, 1)
    attach_projection(student, 16)
    assert student.dim == 16
    student.save(tmp_path / "p")
    loaded = TextEncoder.from_pretrained(tmp_path / "p", device="cpu", dtype="float32")
    np.testing.assert_allclose(loaded.encode(["a dog"]), student.encode(["a dog"]), atol=1e-6)
