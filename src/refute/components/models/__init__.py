"""The model contract (a model's Architecture, from its parameters and the task's TaskInfo alone, and the
seed-batched torch module built from it) and what seed-batched models share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache
from dataclasses import dataclass, field
from math import prod
from typing import TYPE_CHECKING, Callable, ClassVar

from refute.components.models._mup import Role, lr_multipliers
from refute.components.tasks import INPUT_KINDS, TaskData, TaskInfo
from refute.registry import ComponentRef, Params, Registry

if TYPE_CHECKING:
    import torch
    from torch import nn

    from refute.spec.schema import RunSpec


@dataclass(frozen=True)
class Architecture:
    """A model's shapes, known from its parameters and the task's TaskInfo alone (no torch): the one place
    they are computed. The torch module reads its parameter shapes from here; sizing a job reads the counts.

    Sites and token matrices are what the model offers to probes (see the conventions below).
    """

    parameters: dict[str, tuple[int, ...]]  # name -> one seed's shape, in the order the model initialises them
    sites: dict[str, int]  # site name -> number of units (size of the last dimension)
    matrices: dict[str, str]  # token-indexed weight -> what it is
    flops_per_example: float  # one forward pass, 2 FLOPs per multiply-add
    activations_per_example: float  # floats kept for the backward pass
    lr_roles: dict[str, Role] = field(default_factory=dict)  # muP role per parameter (none: every multiplier 1)
    width_mult: float = 1.0  # muP width / base_width

    @property
    def n_params(self) -> int:
        """Parameters per seed."""
        return sum(prod(shape) for shape in self.parameters.values())

    def lr_multipliers(self, adaptive: bool) -> dict[str, float]:
        """Parameter name -> learning-rate multiplier (muP; all 1 in the standard parameterization)."""
        return lr_multipliers(self.lr_roles, self.width_mult, adaptive)


def _known_kinds(cls: type, attr: str) -> None:
    kinds = getattr(cls, attr, None)
    if kinds is not None and not set(kinds) <= set(INPUT_KINDS):
        raise TypeError(f"{cls.__qualname__}.{attr}: unknown input kinds {sorted(set(kinds) - set(INPUT_KINDS))}; "
                        f"known: {', '.join(INPUT_KINDS)}")


class Model(ABC):
    """A model: which input kinds it reads, its Architecture for a task, and its torch module.

    `architecture` raises ValueError for a task it cannot read (reported as a spec error); `build`
    makes the seed-batched module [S, ...] whose parameters are exactly `arch.parameters`, each seed
    initialised from its own generator (see `per_seed`). Parameters named in `init_only` may change the
    initial values and nothing else (not the shapes, buffers or forward pass).
    """

    reads: ClassVar[frozenset[str]]
    # Parameters that only set the initial weights (e.g. init_scale): runs differing only in these can be
    # trained as one batched model (refute.spec.packing), each lane initialised by its own run's model.
    init_only: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        _known_kinds(cls, "reads")

    @abstractmethod
    def architecture(self, p: Params, task: TaskInfo) -> Architecture: ...

    @abstractmethod
    def build(self, p: Params, arch: Architecture, data: TaskData, seeds: list[int]) -> "nn.Module": ...

    def make(self, p: Params, data: TaskData, seeds: list[int]) -> "nn.Module":
        """The module for already-built task data (tests, benchmarks): its architecture from the data's TaskInfo."""
        return self.build(p, self.architecture(p, TaskInfo.of(data)), data, seeds)


MODELS: Registry[Model] = Registry("model", __name__, contract=Model)


class ModelRef(ComponentRef):
    """`model:` in a run spec: {name, params} (or just the name)."""

    registry: ClassVar[Registry] = MODELS


def architecture_of(run: RunSpec) -> Architecture:
    """The run's model's architecture, from its parameters and the task's info alone (memoised)."""
    return _architecture(run.model.model_dump_json(), run.task.model_dump_json())


@lru_cache(maxsize=256)
def _architecture(model_json: str, task_json: str) -> Architecture:
    from refute.components.tasks import TaskRef, task_info

    model = ModelRef.model_validate_json(model_json)
    return MODELS.get(model.name).impl.architecture(model.params, task_info(TaskRef.model_validate_json(task_json)))


def build_model(run: RunSpec, data: TaskData, seeds: list[int]) -> "nn.Module":
    """The run's seed-batched model for `seeds`, laid out by its architecture."""
    return MODELS.get(run.model.name).impl.build(run.model.params, architecture_of(run), data, seeds)


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
# pass, and declares those names (without building anything) in its Architecture's `sites`.
# Site tensors are seed-batched, [S, B, ..., units]; the last dimension indexes the site's units.
# Conventions, so that probes mean the same thing on every model:
#   input            dense inputs as the model reads them          embed   token embeddings, concatenated
#   pre.<i>          hidden layer i before its nonlinearity        hidden.<i>  hidden layer i after it
#   resid.<i>        residual stream after block i                 attn.<i>.pattern  attention weights
#   logits           the output
# Probes attach functions to sites only through `refute.components.probes.hooks`, whose context managers
# remove them on exit.


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
