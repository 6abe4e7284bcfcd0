"""What seed-batched models share: per-seed initialization and batched layers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, ClassVar

from refute.registry import ComponentRef, Registry

MODELS: Registry = Registry("model", __name__)


class ModelRef(ComponentRef):
    """`model:` in a run spec: {name, params} (or just the name)."""

    registry: ClassVar[Registry] = MODELS


if TYPE_CHECKING:
    import torch
    from torch import nn


def per_seed(seeds: list[int], init: Callable[[torch.Generator], dict[str, torch.Tensor]]) -> dict[str, nn.Parameter]:
    """Initialize each seed's parameters from its own generator and stack them on dim 0.

    A seed's parameters therefore do not depend on which other seeds share the batch.
    """
    import torch
    from torch import nn

    per = [init(torch.Generator().manual_seed(int(s))) for s in seeds]
    return {k: nn.Parameter(torch.stack([p[k] for p in per])) for k in per[0]}


def uniform(g: torch.Generator, shape: tuple[int, ...], bound: float) -> torch.Tensor:
    import torch

    return (torch.rand(shape, generator=g) * 2 - 1) * bound


def per_seed_inputs(x: torch.Tensor, n_seeds: int, batched: bool) -> torch.Tensor:
    """Inputs shared by all seeds ([B, ...]) become a view [S, B, ...]; per-seed inputs pass through."""
    return x if batched else x.expand(n_seeds, *x.shape)


def activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The elementwise nonlinearity called `name` (relu, gelu, tanh, linear)."""
    import torch

    return {"relu": torch.relu, "gelu": torch.nn.functional.gelu, "tanh": torch.tanh, "linear": lambda h: h}[name]


# --- Named sites, for probes -------------------------------------------------------------------
# A model marks each place a probe may read or change with `self.site(name, tensor)` in its forward
# pass, and declares those names (without building anything) in a classmethod `anatomy(p, data)`.
# Site tensors are seed-batched, [S, B, ..., units]; the last dimension indexes the site's units.
# A builder registered in MODELS states its model's sites with `@declares_sites(ModelClass)`.
# Conventions, so that probes mean the same thing on every model:
#   input            dense inputs as the model reads them          embed   token embeddings, concatenated
#   pre.<i>          hidden layer i before its nonlinearity        hidden.<i>  hidden layer i after it
#   resid.<i>        residual stream after block i                 attn.<i>.pattern  attention weights
#   logits           the output
# Probes attach functions to sites only through `refute.components.probes.hooks`, whose context managers
# remove them on exit.


@dataclass(frozen=True)
class Anatomy:
    """What a model offers to probes, known from its parameters alone."""

    sites: dict[str, int]  # site name -> number of units (size of the last dimension)
    matrices: dict[str, str] = field(default_factory=dict)  # token-indexed weight -> what it is


class Sited:
    """Mixin for models with named sites: `site` is the identity unless a probe has hooked the name."""

    def site(self, name: str, x: torch.Tensor) -> torch.Tensor:
        hooks = self.__dict__.get("_site_hooks")
        if hooks:
            for fn in hooks.get(name, ()):
                out = fn(x)
                x = x if out is None else out
        return x

    def site_hooks(self) -> dict[str, list]:
        """The live hooks by site (created on first use; probes add and remove entries)."""
        return self.__dict__.setdefault("_site_hooks", {})


def declares_sites(anatomy: Callable[..., Anatomy]):
    """Decorator for a model builder: probes find the model's `anatomy(p, data)` on the builder, without
    building it (or importing torch)."""

    def deco(build):
        build.anatomy = anatomy
        return build

    return deco
