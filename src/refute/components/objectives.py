"""Per-seed losses and accuracies: every function returns one value per seed, shape [S].

Targets come stacked per seed, [S, B] (classes) or [S, B, k] (regression); a target shared by all
seeds can be passed as an expanded view, which costs no copy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def loss(out: torch.Tensor, y: torch.Tensor, objective: str) -> torch.Tensor:
    """Mean loss of each seed; out: [S, B, C]."""
    S, B = out.shape[:2]
    if objective == "classification":
        return F.cross_entropy(out.reshape(S * B, -1), y.reshape(-1), reduction="none").view(S, B).mean(1)
    return ((out - y.reshape(S, B, -1)) ** 2).sum(-1).mean(1)


def accuracy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (out.argmax(-1) == y).float().mean(-1)


def shared(y: torch.Tensor, n_seeds: int) -> torch.Tensor:
    """A target shared by all seeds, as a [S, ...] view."""
    return y.expand(n_seeds, *y.shape)
