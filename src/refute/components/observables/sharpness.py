"""sharpness: the top eigenvalue of each seed's training-loss Hessian (Cohen et al. 2021).

Also logs `stability_ratio` = sharpness ÷ (2/lr): gradient descent on a quadratic is stable only
while sharpness < 2/lr, so the ratio hovers at 1 at the edge of stability. The lr is the
schedule's current base rate; for adaptive optimizers the ratio is only a reference point.
Costly (see refute.components.hessian): give it its own `every`.

Both metrics carry a health certificate (refute.components.certificates): `<metric>.residual`, the
relative residual ‖Hv − θv‖ / |θ| of the reported Ritz pair, and `<metric>.certified`, 1 when it is at
most LANCZOS_RESIDUAL (too few `iters` for a Hessian whose top eigenvalues are close leave it larger).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from refute.components.observables import EvalContext, ObservableParams
from refute.components.observables import OBSERVABLES, Observable

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec


class SharpnessParams(ObservableParams):
    iters: int = Field(20, ge=2, le=500, description="Hessian-vector products per evaluation (Krylov steps)")
    method: Literal["lanczos", "power"] = Field(
        "lanczos", description="Lanczos (top eigenvalue, fast) or power iteration (largest |eigenvalue|)"
    )
    max_examples: int | None = Field(
        None, ge=1, description="use the first this many training examples (default: the whole training set)"
    )


@OBSERVABLES.register("sharpness", SharpnessParams)
class Sharpness(Observable):
    """sharpness (top Hessian eigenvalue of the training loss) and stability_ratio = sharpness·lr/2"""

    def metric_names(self, p: SharpnessParams, run: RunSpec, arch: Architecture) -> list[str]:
        return ["sharpness", "stability_ratio"]

    def compute(self, p: SharpnessParams, ctx: EvalContext) -> dict:
        import torch

        from refute.components import hessian
        from refute.components.certificates import LANCZOS_RESIDUAL, certificate_of, companion

        params = list(ctx.model.parameters())
        hvp = hessian.hvp_fn(ctx.train_loss(p.max_examples).sum(), params)
        top, residual = hessian.top_eigenpair(hvp, hessian.start_vector(params, ctx.seeds), p.iters, p.method)
        certified = torch.where(residual.isnan(), residual, (residual <= LANCZOS_RESIDUAL).double())
        out = {"sharpness": top, "stability_ratio": top * ctx.lr / 2}
        for metric in list(out):
            out[companion(metric, "residual")], out[certificate_of(metric)] = residual, certified
        return out
