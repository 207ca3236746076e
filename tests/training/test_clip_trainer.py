"""CLIPTrainer on a tiny random CLIP: the loss falls, the model is left in eval mode, bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from sbert_rag.errors import ConfigError, InputTooLongError, InvalidInputError
from sbert_rag.image import CLIPConfig, CLIPEncoder
from sbert_rag.training import CLIPTrainer, CLIPTrainingConfig

COLOURS = {"red": (220, 30, 30), "green": (30, 160, 40), "blue": (35, 70, 225), "yellow": (240, 215, 30)}


def _pairs() -> tuple[list[np.ndarray], list[str]]:
    images = [np.full((32, 32, 3), rgb, dtype=np.uint8) for rgb in COLOURS.values()]
    return images * 2, [f"a {name} square" for name in COLOURS] * 2  # each caption twice: masked duplicates


@pytest.fixture()
def clip() -> CLIPEncoder:
    return CLIPEncoder.from_config(CLIPConfig.small(), seed=0, device="cpu")


def test_fit_lowers_the_loss_and_aligns_pairs(clip: CLIPEncoder) -> None:
    images, captions = _pairs()
    seen = []
    config = CLIPTrainingConfig(epochs=15, batch_size=8, learning_rate=2e-3, warmup_steps=2, seed=0)
    history = CLIPTrainer(clip, config).fit(images, captions, on_epoch_end=seen.append)
    assert seen == history and len(history) == 15 and history[-1].steps == 15
    assert history[-1].loss < history[0].loss * 0.5
    assert not clip.model.training
    scores = clip.encode_texts(captions[:4]) @ clip.encode_images(images[:4]).T  # (4 captions, 4 images)
    assert np.diag(scores).mean() > scores[~np.eye(4, dtype=bool)].mean() + 0.1


def test_fit_rejects_bad_pairs(clip: CLIPEncoder) -> None:
    images, captions = _pairs()
    trainer = CLIPTrainer(clip, CLIPTrainingConfig(epochs=1, batch_size=4))
    with pytest.raises(InvalidInputError, match="8 images but 7 captions"):
        trainer.fit(images, captions[:7])
    with pytest.raises(InvalidInputError, match="at least 2 pairs"):
        trainer.fit(images[:1], captions[:1])
    with pytest.raises(InvalidInputError, match="image 1 .*no such file"):
        trainer.fit([images[0], "/nonexistent/x.png"], captions[:2])
    with pytest.raises(InputTooLongError, match="text 1 has"):
        trainer.fit(images[:2], [captions[0], "a red square " * 40])
    assert not clip.model.training


def test_trainer_config_is_validated(clip: CLIPEncoder) -> None:
    bad_values = ({"epochs": 0}, {"batch_size": 1.5}, {"learning_rate": 0}, {"weight_decay": -1})
    for bad in (*bad_values, {"warmup_steps": -1}):
        with pytest.raises(ConfigError):
            CLIPTrainingConfig(**bad)
    config = CLIPTrainingConfig(epochs=2)
    assert CLIPTrainingConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown CLIP training keys"):
        CLIPTrainingConfig.from_dict({"epoch": 2})
    half = CLIPEncoder(clip.model, clip.config, device="cpu", dtype="bfloat16")
    with pytest.raises(ConfigError, match="float32"):
        CLIPTrainer(half)
