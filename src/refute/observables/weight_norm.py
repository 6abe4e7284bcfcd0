"""weight_norm: the L2 norm of all of a seed's parameters together."""

import torch

from refute.observables._base import EvalContext, ObservableParams
from refute.registry import OBSERVABLES


@OBSERVABLES.register("weight_norm", ObservableParams)
class WeightNorm:
    """weight_norm: total L2 norm of the parameters"""

    @staticmethod
    def metric_names(p: ObservableParams) -> list[str]:
        return ["weight_norm"]

    @staticmethod
    def compute(p: ObservableParams, ctx: EvalContext) -> dict:
        with torch.no_grad():
            sq = sum(w.detach().pow(2).flatten(1).sum(1) for w in ctx.model.parameters())
        return {"weight_norm": sq.sqrt()}
