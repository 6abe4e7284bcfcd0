"""The observable contract, and what observables share: an optional own period and a context that caches
forward passes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property
from typing import TYPE_CHECKING

from pydantic import Field

from refute.registry import ComponentError, Params, Registry, flat

if TYPE_CHECKING:
    import torch

    from refute.components.models import Architecture
    from refute.components.tasks import TaskData
    from refute.spec.schema import RunSpec


class ObservableParams(Params):
    """Base of every observable's parameters: its registered name and period."""

    name: str = Field(description="the observable, e.g. loss or sharpness")
    every: int | None = Field(
        None, gt=0, description="log every this many steps (default: train.eval_every); expensive ones want more"
    )


class Observable(ABC):
    """A metric family logged during training.

    `metric_names` lists the metrics it will log for a run spec whose model has the Architecture `arch`
    (from the spec alone; a ValueError there is reported as a spec error); `compute` gives each of them,
    a tensor [S] (one value per seed), at an evaluation point.
    """

    @abstractmethod
    def metric_names(self, p: ObservableParams, run: RunSpec, arch: Architecture) -> list[str]: ...

    @abstractmethod
    def compute(self, p: ObservableParams, ctx: EvalContext) -> dict[str, torch.Tensor]: ...


OBSERVABLES: Registry[Observable] = Registry("observable", __name__, contract=Observable, params_base=ObservableParams)
# An entry of `observables:` in a run spec: a name or {name, every, ...params}.
ObservableSpec = flat(OBSERVABLES)


def metric_names(p: ObservableParams, run: RunSpec, arch: Architecture) -> list[str]:
    """The metrics observable `p` logs for `run`, checked against the contract (a list of names)."""
    entry = OBSERVABLES.get(p.name)
    names = entry.impl.metric_names(p, run, arch)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ComponentError(f"{entry.source}: observable {p.name!r}: metric_names() returned {names!r}; "
                             "the contract is a list of metric names")
    return names


def measure(p: ObservableParams, ctx: EvalContext) -> dict[str, torch.Tensor]:
    """Observable `p` at one evaluation point, checked against the contract: {metric: tensor [S]}, one value
    per seed (a user observable that returns anything else is named by file and line)."""
    import torch

    entry = OBSERVABLES.get(p.name)
    out = entry.impl.compute(p, ctx)
    S = len(ctx.seeds)
    bad = ("a dict" if not isinstance(out, dict) else
           next((f"{k!r}: {tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__}" for k, v in out.items()
                 if not isinstance(k, str) or not isinstance(v, torch.Tensor) or tuple(v.shape) != (S,)), None))
    if bad is not None:
        got = type(out).__name__ if not isinstance(out, dict) else bad
        raise ComponentError(f"{entry.source}: observable {p.name!r}: compute() must return {{metric name: tensor of "
                             f"shape ({S},)}}, one value per seed; got {got}")
    return out


def is_matrix(shape: tuple[int, ...]) -> bool:
    """A weight matrix (trailing dims folded into columns), not a bias or a single row."""
    cols = 1
    for d in shape[1:]:
        cols *= d
    return len(shape) >= 2 and shape[0] > 1 and cols > 1


class EvalContext:
    """One evaluation point: the model at a step, with forward passes computed at most once.

    `lr` is the base learning rate the schedule gives for the next update (before any muP
    per-layer multiplier); `seeds` are the seeds stacked in the model, in order.
    """

    def __init__(self, model, data: "TaskData", step: int, lr: float | None = None, seeds: list[int] | None = None):
        self.model, self.data, self.step, self.lr = model, data, step, lr
        self.seeds = list(range(model.n_seeds)) if seeds is None else list(seeds)

    def _forward(self, x):
        import torch

        with torch.no_grad():
            return self.model(x)

    @cached_property
    def train_out(self) -> "torch.Tensor":
        return self._forward(self.data.x_train)

    @cached_property
    def val_out(self) -> "torch.Tensor":
        return self._forward(self.data.x_val)

    def train_loss(self, max_examples: int | None = None) -> "torch.Tensor":
        """Each seed's training loss [S] with its autograd graph (for gradients and curvature), on the
        first `max_examples` training examples or all of them."""
        from refute.components import objectives

        d = self.data
        x, y = (d.x_train, d.y_train) if max_examples is None else (d.x_train[:max_examples], d.y_train[:max_examples])
        return objectives.loss(self.model(x), objectives.shared(y, self.model.n_seeds), d.objective)


def svdvals_per_seed(m: "torch.Tensor") -> "torch.Tensor":
    """Singular values of each seed's matrix m[s] ([S, a, b] → [S, min(a, b)], largest first); nan
    for a seed whose matrix is not finite (a diverged seed must not stop the others' evaluation)."""
    import torch

    finite = torch.isfinite(m).flatten(1).all(1)
    sv = torch.linalg.svdvals(torch.where(finite.view(-1, 1, 1), m, torch.zeros_like(m)))
    return torch.where(finite.view(-1, 1), sv, torch.full_like(sv, float("nan")))
