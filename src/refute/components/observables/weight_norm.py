"""weight_norm: the L2 norm of all of a seed's parameters together, and optionally of each one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from refute.components.observables import EvalContext, ObservableParams
from refute.components.observables import OBSERVABLES, Observable

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec


class WeightNormParams(ObservableParams):
    per_layer: bool = Field(False, description="also log weight_norm.<parameter> for every parameter tensor")


@OBSERVABLES.register("weight_norm", WeightNormParams)
class WeightNorm(Observable):
    """weight_norm: total L2 norm of the parameters (per_layer: weight_norm.<parameter> too)"""

    def metric_names(self, p: WeightNormParams, run: RunSpec, arch: Architecture) -> list[str]:
        names = ["weight_norm"]
        if p.per_layer:
            names += [f"weight_norm.{n}" for n in arch.parameters]
        return names

    def compute(self, p: WeightNormParams, ctx: EvalContext) -> dict:
        import torch

        with torch.no_grad():
            sq = {n: w.detach().pow(2).flatten(1).sum(1) for n, w in ctx.model.named_parameters()}
        out = {"weight_norm": sum(sq.values()).sqrt()}
        if p.per_layer:
            out.update({f"weight_norm.{n}": v.sqrt() for n, v in sq.items()})
        return out
