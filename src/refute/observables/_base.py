"""What observables share: an optional own period and a context that caches forward passes."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from pydantic import Field

from refute.registry import Params

if TYPE_CHECKING:
    import torch

    from refute.tasks._base import TaskData


class ObservableParams(Params):
    every: int | None = Field(
        None, gt=0, description="log every this many steps (default: train.eval_every); expensive ones want more"
    )


class EvalContext:
    """One evaluation point: the model at a step, with forward passes computed at most once."""

    def __init__(self, model, data: "TaskData", step: int):
        self.model, self.data, self.step = model, data, step

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
