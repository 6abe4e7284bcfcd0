"""The data a task hands to a model and a trainer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch


@dataclass
class TaskData:
    """A fixed train/validation split, shared by every seed of a run.

    `inputs` says how a model should read `x`: integer tokens (`x` is [N, seq_len] with values in
    [0, vocab_size)) or dense features (`x` is [N, in_dim]).
    """

    x_train: "torch.Tensor"
    y_train: "torch.Tensor"
    x_val: "torch.Tensor"
    y_val: "torch.Tensor"
    inputs: Literal["tokens", "dense"]
    in_dim: int  # sequence length for tokens, feature count for dense inputs
    out_dim: int  # classes for classification, outputs for regression
    objective: Literal["classification", "regression"]
    vocab_size: int = 0
