"""What seed-batched models share: per-seed initialization and batched layers."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def per_seed(seeds: list[int], init: Callable[[torch.Generator], dict[str, torch.Tensor]]) -> dict[str, nn.Parameter]:
    """Initialize each seed's parameters from its own generator and stack them on dim 0.

    A seed's parameters therefore do not depend on which other seeds share the batch.
    """
    per = [init(torch.Generator().manual_seed(int(s))) for s in seeds]
    return {k: nn.Parameter(torch.stack([p[k] for p in per])) for k in per[0]}


def uniform(g: torch.Generator, shape: tuple[int, ...], bound: float) -> torch.Tensor:
    return (torch.rand(shape, generator=g) * 2 - 1) * bound


def per_seed_inputs(x: torch.Tensor, n_seeds: int, batched: bool) -> torch.Tensor:
    """Inputs shared by all seeds ([B, ...]) become a view [S, B, ...]; per-seed inputs pass through."""
    return x if batched else x.expand(n_seeds, *x.shape)


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "gelu": torch.nn.functional.gelu,
    "tanh": torch.tanh,
    "linear": lambda h: h,
}
