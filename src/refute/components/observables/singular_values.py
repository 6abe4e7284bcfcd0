"""singular_values: the top singular values of a linear network's end-to-end map (per seed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from refute.components.observables import EvalContext, ObservableParams, svdvals_per_seed
from refute.components.observables._linear import check_linear, end_to_end
from refute.components.observables import OBSERVABLES, Observable

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec


class SingularValuesParams(ObservableParams):
    k: int = Field(4, ge=1, le=256, description="how many of the largest singular values to log: sv_0 ≥ sv_1 ≥ …")


@OBSERVABLES.register("singular_values", SingularValuesParams)
class SingularValues(Observable):
    """sv_0..sv_{k-1}: singular values of a linear network's end-to-end map, largest first"""

    def metric_names(self, p: SingularValuesParams, run: RunSpec, arch: Architecture) -> list[str]:
        check_linear(run, "singular_values")
        dims = [getattr(run.task.params, d, None) for d in ("d_in", "d_out")]
        if None not in dims and p.k > min(dims):
            raise ValueError(f"k = {p.k} exceeds the map's rank bound min(d_in, d_out) = {min(dims)}")
        return [f"sv_{i}" for i in range(p.k)]

    def compute(self, p: SingularValuesParams, ctx: EvalContext) -> dict:
        sv = svdvals_per_seed(end_to_end(ctx.model, ctx.data.in_dim))
        if sv.shape[1] < p.k:
            raise ValueError(f"singular_values: k = {p.k} but the end-to-end map has only {sv.shape[1]}")
        return {f"sv_{i}": sv[:, i] for i in range(p.k)}
