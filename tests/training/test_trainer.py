"""Towers, objectives, GradCache and the trainer on the tiny random BERT."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sbert_rag.errors import ConfigError, InvalidInputError  # noqa: E402
from sbert_rag.training.data import NoDuplicatesBatchSampler, RetrievalExample, ScoredPair, ShuffledBatchSampler  # noqa: E402
from sbert_rag.training.objectives import PairObjective, RankingObjective  # noqa: E402
from sbert_rag.training.towers import Tower, TowerPair, TrainingTruncationWarning, inference_copy  # noqa: E402
from sbert_rag.training.trainer import Trainer, TrainingConfig  # noqa: E402
from sbert_rag.types import Role  # noqa: E402

EXAMPLES = [
    RetrievalExample("cat on house", "the cat sits on the red house", ("a big green tree",)),
    RetrievalExample("dog runs", "the dog runs in the green tree", ("the blue car is big",)),
    RetrievalExample("bird eats fish", "a bird eats a small fish", ("a fish is in the sea",)),
    RetrievalExample("big blue car", "the blue car is big now", ("a model is a vector",)),
]


def _grads(module) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


def test_tower_embeddings_match_the_encoder(tiny_encoder) -> None:
    texts = ["the cat sits", "a long sentence with a small dog"]
    tower = Tower(tiny_encoder, Role.PASSAGE)
    with torch.no_grad():
        got = tower.embed(texts).numpy()
    np.testing.assert_allclose(got, tiny_encoder.encode_passages(texts), atol=1e-5)


def test_tower_warns_once_on_cut_inputs(tiny_encoder) -> None:
    tower = Tower(tiny_encoder, Role.PASSAGE, max_tokens=6)
    with pytest.warns(TrainingTruncationWarning, match="1 of 2 training passages exceed max_tokens=6"):
        tower.prepare(["the cat", "the cat sits on the red house"])
    assert all(len(r) <= 6 for r in tower.rows(["the cat sits on the red house"]))
    with pytest.raises(ConfigError, match="exceeds the model's limit"):
        Tower(tiny_encoder, Role.PASSAGE, max_tokens=10_000)


def test_ranking_loss_gradients_reach_the_encoder(tiny_encoder) -> None:
    towers = TowerPair.from_encoder(tiny_encoder)
    loss = RankingObjective(towers, loss="mnrl")(EXAMPLES)
    loss.backward()
    grads = _grads(tiny_encoder.module)
    assert any("embeddings.word_embeddings" in n for n in grads)
    assert any("encoder.layer.0" in n and float(g.abs().sum()) > 0 for n, g in grads.items())


def test_cached_mnrl_matches_plain_mnrl_gradients(tiny_encoder) -> None:
    plain_enc, cached_enc = tiny_encoder, copy.deepcopy(tiny_encoder)
    plain_enc.module.eval()
    cached_enc.module.eval()  # no dropout: both passes must agree exactly
    plain = RankingObjective(TowerPair.from_encoder(plain_enc), loss="mnrl")(EXAMPLES)
    cached = RankingObjective(TowerPair.from_encoder(cached_enc), loss="cached-mnrl", mini_batch_size=3)(EXAMPLES)
    assert float(cached.detach()) == pytest.approx(float(plain.detach()), abs=1e-5)
    plain.backward()
    (2 * cached).backward()  # a scaled loss scales the replayed gradient too
    a, b = _grads(plain_enc.module), _grads(cached_enc.module)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(2 * a[name], b[name], atol=1e-5, rtol=1e-4)


def test_untied_frozen_passage_trains_only_the_query_tower(tiny_encoder) -> None:
    towers = TowerPair.from_encoder(tiny_encoder, untied=True, freeze_passage=True)
    RankingObjective(towers, loss="cached-mnrl", mini_batch_size=2)(EXAMPLES).backward()
    assert _grads(towers.query.module)
    assert not _grads(towers.passage.module)
    assert towers.trainable_modules() == [towers.query.module]
    with pytest.raises(ConfigError, match="untied"):
        TowerPair.from_encoder(tiny_encoder, freeze_passage=True)


def test_objective_refuses_duplicate_passages(tiny_encoder) -> None:
    batch = [EXAMPLES[0], RetrievalExample("another cat", EXAMPLES[0].positive, ("a blue car",))]
    with pytest.raises(InvalidInputError, match="share the passage"):
        RankingObjective(TowerPair.from_encoder(tiny_encoder))(batch)
    with pytest.raises(InvalidInputError, match="triplet loss needs"):
        RankingObjective(TowerPair.from_encoder(tiny_encoder), loss="triplet")([RetrievalExample("a", "b")])


@pytest.mark.parametrize("loss", ["mnrl", "triplet"])
def test_one_trainer_step_lowers_the_loss_on_a_fixed_batch(tiny_encoder, loss) -> None:
    torch.manual_seed(0)
    objective = RankingObjective(TowerPair.from_encoder(tiny_encoder), loss=loss, scale=20.0)
    tiny_encoder.module.eval()
    with torch.no_grad():
        before = float(objective(EXAMPLES))
    config = TrainingConfig(learning_rate=1e-2, warmup_ratio=0.0, max_steps=1, bf16=False, show_progress=False)
    result = Trainer(objective, ShuffledBatchSampler(EXAMPLES, batch_size=4), config).fit()
    with torch.no_grad():
        after = float(objective(EXAMPLES))
    assert result.steps == 1
    assert after < before


def test_trainer_accumulates_and_saves_the_best(tiny_encoder, tmp_path) -> None:
    pairs = [ScoredPair("the cat", "a cat", 5.0), ScoredPair("the dog", "a car", 0.0),
             ScoredPair("a bird", "a fish", 2.0), ScoredPair("red house", "green tree", 1.0)]
    objective = PairObjective(Tower(tiny_encoder, Role.PASSAGE), loss="cosent")
    scores = iter([0.5, 0.9, 0.7])
    saved: list[int] = []
    config = TrainingConfig(epochs=2, grad_accumulation=2, eval_at_start=True, bf16=False, show_progress=False,
                            learning_rate=1e-3)
    trainer = Trainer(objective, ShuffledBatchSampler(pairs, 1, seed=3), config,
                      evaluator=lambda: {"score": next(scores)}, metric="score",
                      save=lambda path: saved.append(1), out_dir=tmp_path)
    result = trainer.fit()
    assert result.steps == 4  # 4 batches per epoch, 2 per step, 2 epochs
    assert [e["step"] for e in result.evals] == [0, 2, 4]
    assert result.best == {"step": 2, "score": 0.9}
    assert len(saved) == 2  # the start, then step 2
    report = json.loads((tmp_path / "training_report.json").read_text())
    assert report["best"]["step"] == 2 and len(report["losses"]) == 4


def test_resume_continues_exactly(tiny_encoder, tmp_path) -> None:
    pairs = [ScoredPair(f"the cat {w}", f"a dog {w}", float(i % 5)) for i, w in enumerate("abcdefgh")]
    config = TrainingConfig(epochs=2, checkpoint_steps=1, bf16=False, show_progress=False, learning_rate=1e-3, seed=5)
    reference = copy.deepcopy(tiny_encoder)
    Trainer(PairObjective(Tower(reference, Role.PASSAGE)), ShuffledBatchSampler(pairs, 2, seed=1), config,
            out_dir=tmp_path / "reference").fit()

    class Crash(RuntimeError):
        pass

    crashing = copy.deepcopy(tiny_encoder)
    objective = PairObjective(Tower(crashing, Role.PASSAGE))
    calls = {"n": 0}

    def crash_on_sixth(batch):
        calls["n"] += 1
        if calls["n"] == 6:
            raise Crash
        return objective(batch)

    crash_on_sixth.modules = objective.modules  # type: ignore[attr-defined]
    with pytest.raises(Crash):
        Trainer(crash_on_sixth, ShuffledBatchSampler(pairs, 2, seed=1), config, out_dir=tmp_path).fit()
    assert (tmp_path / "checkpoint" / "trainer_state.pt").is_file()
    resumed = copy.deepcopy(tiny_encoder)
    result = Trainer(PairObjective(Tower(resumed, Role.PASSAGE)), ShuffledBatchSampler(pairs, 2, seed=1), config,
                     out_dir=tmp_path).fit(resume=True)
    assert result.steps == 8 and len(result.losses) == 8
    for (name, a), b in zip(reference.module.state_dict().items(), resumed.module.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    assert not (tmp_path / "checkpoint").exists()


def test_resume_without_checkpoint_fails(tiny_encoder, tmp_path) -> None:
    objective = PairObjective(Tower(tiny_encoder, Role.PASSAGE))
    trainer = Trainer(objective, ShuffledBatchSampler([ScoredPair("a", "b", 1.0)], 1), TrainingConfig(show_progress=False),
                      out_dir=tmp_path)
    with pytest.raises(ConfigError, match="nothing to resume"):
        trainer.fit(resume=True)


def test_inference_copy_leaves_the_model_untouched(tiny_encoder) -> None:
    copied = inference_copy(tiny_encoder, "bfloat16")
    assert next(copied.module.parameters()).dtype == torch.bfloat16
    assert next(tiny_encoder.module.parameters()).dtype == torch.float32
    assert copied.encode(["the cat"]).dtype == np.float32


def test_training_config_round_trip_and_errors() -> None:
    cfg = TrainingConfig(epochs=2, eval_steps=5)
    assert TrainingConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown training keys"):
        TrainingConfig.from_dict({"epoch": 1})
    with pytest.raises(ConfigError, match="warmup_ratio"):
        TrainingConfig(warmup_ratio=1.0)
    with pytest.raises(ConfigError, match="batch_size"):
        NoDuplicatesBatchSampler(EXAMPLES, 0)


def test_pair_objective_anchor_term_is_zero_at_start_and_pulls_back(tiny_encoder) -> None:
    from sbert_rag.training.data import ScoredPair

    pairs = [ScoredPair("the cat sits", "a cat sits", 4.0), ScoredPair("the dog runs", "blue house", 0.5)]
    plain = PairObjective(Tower(tiny_encoder, Role.PASSAGE), loss="cosent")
    anchored = PairObjective(Tower(tiny_encoder, Role.PASSAGE), loss="cosent", anchor_weight=10.0)
    plain.prepare(pairs)
    anchored.prepare(pairs)
    tiny_encoder.module.eval()  # no dropout: the two objectives see the same embeddings
    with torch.no_grad():
        assert anchored(pairs).item() == pytest.approx(plain(pairs).item(), abs=1e-5)  # not moved yet
        for p in tiny_encoder.module.parameters():
            p.add_(0.05 * torch.randn_like(p))
        assert anchored(pairs).item() > plain(pairs).item() + 1e-4  # moved: the anchor term costs
    with pytest.raises(ConfigError, match="anchor_weight"):
        PairObjective(Tower(tiny_encoder, Role.PASSAGE), anchor_weight=-1.0)
