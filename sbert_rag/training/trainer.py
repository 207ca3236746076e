"""A small explicit training loop for sentence encoders.

Owns: AdamW with decoupled weight decay (not on biases and norm gains), linear warmup then
linear decay, gradient accumulation, gradient clipping, bf16 autocast where the hardware has it
(CPUs with AVX512-BF16 or AMX, bf16 GPUs; master weights stay float32), an evaluation hook every
``eval_steps`` and at the end of each epoch, saving the best model (by the hook's metric)
through a ``save`` callable (e.g. ``TowerPair.save``: a sentence-transformers folder), resumable
checkpoints, a progress bar and seeds. The model, data and loss come in as an *objective*
(``objectives.py``: ``batch -> loss`` plus ``modules()``) and a *sampler* (``data.py``:
``batches(epoch)``). Deliberately no distributed training, no fp16 loss scaling, no callbacks
zoo: read the 150 lines below.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sbert_rag._deps import require
from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.training.optim import lr_factor, param_groups

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.pt"


class Objective(Protocol):
    """What the trainer optimises: a loss per batch and the modules that hold the weights."""

    def __call__(self, batch: Any) -> Any: ...

    def modules(self) -> list[Any]: ...


class Sampler(Protocol):
    """Batches of one epoch, reproducible for a given epoch number."""

    def batches(self, epoch: int) -> Sequence[Any]: ...


@dataclass(frozen=True)
class TrainingConfig:
    """Options of :class:`Trainer`.

    Attributes:
        epochs: passes over the data.
        learning_rate: peak AdamW learning rate.
        weight_decay: AdamW decay of weight matrices.
        warmup_ratio: share of the optimiser steps spent warming up linearly, in [0, 1).
        grad_accumulation: batches whose gradients add up before one optimiser step.
        max_grad_norm: clip the gradient's global L2 norm to this; None = no clipping.
        bf16: autocast matrix products to bfloat16; None = where the hardware has it natively.
        eval_steps: evaluate every this many optimiser steps (and always after each epoch);
            None = after each epoch only.
        eval_each_epoch: evaluate after every epoch; False = after the last one only (when
            evaluating is expensive, e.g. re-embedding a corpus).
        eval_at_start: evaluate once before training (the baseline; the best model may then be
            the starting one).
        checkpoint_steps: write a resumable checkpoint every this many steps; None = never.
        max_steps: stop after this many optimiser steps; None = all epochs.
        seed: seeds Python, numpy and torch (dropout) generators.
        show_progress: show a progress bar.
    """

    epochs: int = 1
    learning_rate: float = 2e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    grad_accumulation: int = 1
    max_grad_norm: float | None = 1.0
    bf16: bool | None = None
    eval_steps: int | None = None
    eval_each_epoch: bool = True
    eval_at_start: bool = False
    checkpoint_steps: int | None = None
    max_steps: int | None = None
    seed: int = 0
    show_progress: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "grad_accumulation"):
            _positive(name, getattr(self, name))
        for name in ("eval_steps", "checkpoint_steps", "max_steps"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0; got {self.learning_rate!r}")
        if not self.weight_decay >= 0:
            raise ConfigError(f"weight_decay must be >= 0; got {self.weight_decay!r}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio must be in [0, 1); got {self.warmup_ratio!r}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ConfigError(f"max_grad_norm must be > 0 or None; got {self.max_grad_norm!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every option."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingConfig:
        """Build from :meth:`to_dict` output; unknown keys raise ``ConfigError`` naming them."""
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ConfigError(f"unknown training keys {unknown}; allowed keys are {allowed}")
        return cls(**data)


@dataclass
class TrainResult:
    """What a run did.

    Attributes:
        steps: optimiser steps taken (all epochs, resumed ones included).
        losses: mean loss of each optimiser step.
        evals: ``{"step": s, **metrics}`` per evaluation.
        best: the best evaluation (None without an evaluator).
        bf16: whether autocast to bfloat16 was on.
        seconds: wall time of this ``fit`` call.
    """

    steps: int = 0
    losses: list[float] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, float] | None = None
    bf16: bool = False
    seconds: float = 0.0


class Trainer:
    """Train an objective's modules in place over a sampler's batches.

    Args:
        objective: batch -> scalar loss, with ``modules()`` to optimise.
        sampler: ``batches(epoch)``.
        config: options; None = defaults.
        evaluator: called (modules in eval mode) after each epoch and every ``eval_steps``;
            returns metrics, higher is better for ``metric``.
        metric: the key of the evaluator's result that picks the best model.
        save: writes the model to a folder (e.g. ``TowerPair.save``); called with ``out_dir``
            for each new best, or once at the end without an evaluator.
        out_dir: where the model, ``training_report.json`` and checkpoints go; None = nowhere.

    Example:
        >>> towers = TowerPair.from_encoder(encoder)
        >>> objective = RankingObjective(towers, loss="mnrl")
        >>> sampler = NoDuplicatesBatchSampler(examples, batch_size=32)
        >>> Trainer(objective, sampler, TrainingConfig(epochs=1), save=towers.save, out_dir="out").fit()
    """

    def __init__(
        self,
        objective: Objective,
        sampler: Sampler,
        config: TrainingConfig | None = None,
        *,
        evaluator: Callable[[], Mapping[str, float]] | None = None,
        metric: str | None = None,
        save: Callable[[Path], None] | None = None,
        out_dir: str | Path | None = None,
    ) -> None:
        if evaluator is not None and metric is None:
            raise ConfigError("an evaluator needs metric= (the key that picks the best model)")
        self.objective = objective
        self.sampler = sampler
        self.config = config or TrainingConfig()
        self.evaluator = evaluator
        self.metric = metric
        self.save = save
        self.out_dir = Path(out_dir) if out_dir is not None else None
        if self.config.checkpoint_steps is not None and self.out_dir is None:
            raise ConfigError("checkpoint_steps needs out_dir (checkpoints are written under it)")

    def fit(self, resume: bool = False) -> TrainResult:
        """Train; the modules are left in eval mode.

        Args:
            resume: continue from ``out_dir/checkpoint`` (same data, config and seed).

        Returns:
            The run's :class:`TrainResult`; also written to ``out_dir/training_report.json``.

        Raises:
            InvalidInputError: an epoch yields no batch, or a loss is not finite (lower the
                learning rate).
            ConfigError: ``resume`` without a checkpoint to resume from.
        """
        torch = require("torch")
        cfg, started = self.config, time.perf_counter()
        _seed(cfg.seed)
        modules = self.objective.modules()
        params = [p for m in modules for p in m.parameters() if p.requires_grad]
        device = params[0].device.type if params else "cpu"
        bf16 = _bf16_available(device) if cfg.bf16 is None else cfg.bf16
        first = self.sampler.batches(0)
        if not first:
            raise InvalidInputError("the sampler gave no batch for epoch 0; pass more examples or a smaller batch")
        per_epoch = math.ceil(len(first) / cfg.grad_accumulation)
        total = per_epoch * cfg.epochs if cfg.max_steps is None else min(cfg.max_steps, per_epoch * cfg.epochs)
        warmup = int(cfg.warmup_ratio * total)
        optimizer = torch.optim.AdamW(param_groups(modules, cfg.weight_decay), lr=cfg.learning_rate)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, warmup, total))
        result = TrainResult(bf16=bf16)
        start_epoch, skip = 0, 0
        if resume:
            start_epoch, skip = self._load_checkpoint(modules, optimizer, schedule, result)
        elif cfg.eval_at_start and self.evaluator is not None:
            self._evaluate(modules, result)
        bar = _progress(total, result.steps, cfg.show_progress)
        try:
            for epoch in range(start_epoch, cfg.epochs):
                batches = first if epoch == 0 else self.sampler.batches(epoch)
                done = self._epoch(epoch, batches, skip, modules, params, optimizer, schedule, bf16, total, result, bar)
                skip = 0
                last = done or epoch == cfg.epochs - 1
                due = self.evaluator is not None and (cfg.eval_each_epoch or last)
                if due and (not result.evals or result.evals[-1]["step"] != result.steps):
                    self._evaluate(modules, result)
                if done:
                    break
        finally:
            bar.close()
            for module in modules:
                module.eval()
        if self.evaluator is None and self.save is not None and self.out_dir is not None:
            self.save(self.out_dir)
        result.seconds = round(time.perf_counter() - started, 1)
        if self.out_dir is not None:
            self._write_report(result)
            shutil.rmtree(self.out_dir / "checkpoint", ignore_errors=True)
        return result

    def _epoch(self, epoch: int, batches: Sequence[Any], skip: int, modules: list[Any], params: list[Any],
               optimizer: Any, schedule: Any, bf16: bool, total: int, result: TrainResult, bar: Any) -> bool:
        torch, cfg = require("torch"), self.config
        accum = cfg.grad_accumulation
        device = params[0].device.type if params else "cpu"
        for module in modules:
            module.train()
        pending: list[float] = []
        for index in range(skip, len(batches)):
            with torch.enable_grad(), torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
                loss = self.objective(batches[index])
            value = float(loss.detach())
            if not math.isfinite(value):
                raise InvalidInputError(f"the loss became {value} at step {result.steps}; lower the learning rate")
            in_step = min(accum, len(batches) - (index - index % accum))  # batches in this step
            (loss / in_step).backward()
            pending.append(value)
            if len(pending) < in_step:
                continue
            if cfg.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            result.steps += 1
            result.losses.append(sum(pending) / len(pending))
            pending = []
            bar.update(1)
            bar.set_postfix(loss=f"{result.losses[-1]:.4f}", epoch=epoch + 1)
            if cfg.eval_steps and result.steps % cfg.eval_steps == 0 and self.evaluator is not None:
                self._evaluate(modules, result)
            if cfg.checkpoint_steps and result.steps % cfg.checkpoint_steps == 0:
                self._save_checkpoint(modules, optimizer, schedule, result, epoch, index + 1)
            if result.steps >= total:
                return True
        return False

    def _evaluate(self, modules: list[Any], result: TrainResult) -> None:
        assert self.evaluator is not None and self.metric is not None  # checked in __init__
        training = [m.training for m in modules]
        for module in modules:
            module.eval()
        metrics = dict(self.evaluator())
        if self.config.show_progress:
            shown = ", ".join(f"{k} {v:.2f}" for k, v in metrics.items())
            require("tqdm").tqdm.write(f"eval at step {result.steps}: {shown}", file=sys.stderr)
        for module, mode in zip(modules, training):
            module.train(mode)
        if self.metric not in metrics:
            raise ConfigError(f"the evaluator returned {sorted(metrics)} without the metric {self.metric!r}")
        record = {"step": result.steps, **{k: float(v) for k, v in metrics.items()}}
        result.evals.append(record)
        logger.info("eval at step %d: %s", result.steps, metrics)
        if result.best is None or record[self.metric] > result.best[self.metric]:
            result.best = record
            if self.save is not None and self.out_dir is not None:
                self.save(self.out_dir)

    def _save_checkpoint(self, modules: list[Any], optimizer: Any, schedule: Any, result: TrainResult,
                         epoch: int, next_batch: int) -> None:
        torch = require("torch")
        assert self.out_dir is not None  # checked in __init__
        folder = self.out_dir / "checkpoint"
        folder.mkdir(parents=True, exist_ok=True)
        state = {
            "modules": [m.state_dict() for m in modules],
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "result": asdict(result),
            "epoch": epoch,
            "next_batch": next_batch,
            "config": self.config.to_dict(),
            "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},
        }
        torch.save(state, folder / f"{STATE_FILE}.tmp")
        (folder / f"{STATE_FILE}.tmp").replace(folder / STATE_FILE)

    def _load_checkpoint(self, modules: list[Any], optimizer: Any, schedule: Any, result: TrainResult) -> tuple[int, int]:
        torch = require("torch")
        path = self.out_dir / "checkpoint" / STATE_FILE if self.out_dir is not None else None
        if path is None or not path.is_file():
            raise ConfigError(f"nothing to resume: {path} does not exist (train with checkpoint_steps to write one)")
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state["config"] != self.config.to_dict():
            raise ConfigError(f"the checkpoint was written with other options {state['config']}; resume with the same ones")
        for module, weights in zip(modules, state["modules"]):
            module.load_state_dict(weights)
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        for key, value in state["result"].items():
            setattr(result, key, value)
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
        torch.set_rng_state(state["rng"]["torch"])
        return int(state["epoch"]), int(state["next_batch"])

    def _write_report(self, result: TrainResult) -> None:
        assert self.out_dir is not None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        report = {"config": self.config.to_dict(), "metric": self.metric, **asdict(result)}
        (self.out_dir / "training_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1; got {value!r}")


def _seed(seed: int) -> None:
    torch = require("torch")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _bf16_available(device: str) -> bool:
    torch = require("torch")
    if device == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device == "cpu":
        from sbert_rag.encoding.hardware import cpu_has_fast_bf16

        return cpu_has_fast_bf16()
    return False


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, done: int, show: bool) -> Any:
    if not show:
        return _NoBar()
    return require("tqdm").tqdm(total=total, initial=done, desc="training", unit="step")
