"""The torch side of a sentence encoder: transformer -> pooling -> Dense stages.

Owns the differentiable forward pass, shared by inference (text_encoder.py) and training.
Normalisation is left to the caller, because windowed inputs are averaged before it.
Imports torch at module import: load it only through text_encoder.py or training code.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import torch
from torch import nn

from sbert_rag.config import PoolingMode
from sbert_rag.encoding.loading import DenseSpec
from sbert_rag.encoding.pooling import pool
from sbert_rag.errors import ModelLoadError


def build_activation(name: str) -> nn.Module:
    """Instantiate a torch.nn activation from its dotted class name (only torch.nn classes)."""
    if not name.startswith("torch.nn."):
        raise ModelLoadError(
            f"Dense activation {name!r} is not a torch.nn class; sbert_rag only loads torch.nn activations"
        )
    module_name, _, cls_name = name.rpartition(".")
    cls = getattr(importlib.import_module(module_name), cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ModelLoadError(f"Dense activation {name!r} is not a torch.nn.Module class")
    return cls()


class DenseStage(nn.Module):
    """A sentence-transformers Dense stage: ``activation(linear(x))``; state keys ``linear.*``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "torch.nn.modules.activation.Tanh") -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.activation_name = activation
        self.activation = build_activation(activation)

    @classmethod
    def from_spec(cls, spec: DenseSpec) -> DenseStage:
        """Build the stage and load its weights from a sentence-transformers Dense folder."""
        stage = cls(spec.in_features, spec.out_features, spec.bias, spec.activation)
        st_file = spec.folder / "model.safetensors"
        if st_file.is_file():
            from safetensors.torch import load_file

            state = load_file(str(st_file))
        else:
            state = torch.load(spec.folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
        missing, unexpected = stage.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ModelLoadError(
                f"Dense weights in {str(spec.folder)!r} do not match: missing {missing}, unexpected {unexpected}"
            )
        return stage

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(x))


class SentenceModule(nn.Module):
    """Transformer, pooling and Dense stages as one differentiable module.

    Args:
        transformer: a Hugging Face model returning ``last_hidden_state``.
        pooling: pooling modes, concatenated when several.
        dense: Dense stages applied after pooling.
        include_prompt: whether prompt tokens take part in pooling.
    """

    def __init__(
        self,
        transformer: nn.Module,
        pooling: Sequence[PoolingMode],
        dense: Sequence[DenseStage] = (),
        include_prompt: bool = True,
    ) -> None:
        super().__init__()
        self.transformer = transformer
        self.pooling = tuple(pooling)
        self.dense = nn.ModuleList(dense)
        self.include_prompt = include_prompt

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        exclude_first: int = 0,
    ) -> torch.Tensor:
        """Sentence vectors (not normalised), shape (batch, dim), float32 for half-precision models."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.transformer(**kwargs).last_hidden_state  # (batch, seq, hidden)
        return self.head(hidden, attention_mask, exclude_first=exclude_first)

    def head(self, hidden: torch.Tensor, attention_mask: torch.Tensor, exclude_first: int = 0) -> torch.Tensor:
        """Pooling and Dense stages over token vectors (batch, seq, hidden) -> (batch, dim)."""
        skip = 0 if self.include_prompt else exclude_first
        x = pool(hidden, attention_mask, self.pooling, exclude_first=skip)  # (batch, hidden * n_modes)
        for stage in self.dense:
            x = stage(x.to(stage.linear.weight.dtype)).float()
        return x

    def head_runs(self, hidden: torch.Tensor, runs: Sequence[tuple[int, int, int]], exclude_first: int = 0) -> torch.Tensor:
        """:meth:`head` over packed token vectors (tokens, hidden), one run of equal-length rows at a time.

        ``runs`` holds (first token, rows, length) per run, as ``packed.PackedRows.runs``.
        """
        parts = []
        for start, count, length in runs:
            block = hidden[start : start + count * length].view(count, length, -1)
            mask = torch.ones((count, length), dtype=torch.int64, device=hidden.device)
            parts.append(self.head(block, mask, exclude_first=exclude_first))
        return torch.cat(parts)
