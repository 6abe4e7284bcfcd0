"""grad_norm: the L2 norm of each seed's full training-loss gradient."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from refute.components.observables import EvalContext, ObservableParams
from refute.components.observables import OBSERVABLES, Observable

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec


class GradNormParams(ObservableParams):
    max_examples: int | None = Field(
        None, ge=1, description="use the first this many training examples (default: the whole training set)"
    )


@OBSERVABLES.register("grad_norm", GradNormParams)
class GradNorm(Observable):
    """grad_norm: L2 norm of the gradient of the training loss (all training examples)"""

    def metric_names(self, p: GradNormParams, run: RunSpec, arch: Architecture) -> list[str]:
        return ["grad_norm"]

    def compute(self, p: GradNormParams, ctx: EvalContext) -> dict:
        import torch

        params = list(ctx.model.parameters())
        # The summed loss's gradient holds each seed's own gradient in that seed's slice.
        grads = torch.autograd.grad(ctx.train_loss(p.max_examples).sum(), params)
        return {"grad_norm": sum(g.pow(2).flatten(1).sum(1) for g in grads).sqrt()}
