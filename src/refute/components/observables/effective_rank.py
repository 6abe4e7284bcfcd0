"""effective_rank: the entropy effective rank of each weight matrix (Roy & Vetterli 2007).

exp(H(p)) with p_i = σ_i / Σσ: 1 when one direction carries all the weight, the matrix's size
when all singular values are equal. A parameter with trailing dims (conv kernels, attention heads)
is read as a matrix [first dim, the rest].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from refute.components.observables import EvalContext, ObservableParams, is_matrix, svdvals_per_seed
from refute.components.observables import OBSERVABLES, Observable

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec
    import torch


class EffectiveRankParams(ObservableParams):
    parameters: list[str] | None = Field(
        None, description="which weight matrices (parameter names, e.g. [w0, w1]); default: every matrix"
    )


def effective_rank(w: torch.Tensor) -> torch.Tensor:
    """Per seed, for w [S, rows, ...]; nan for a seed whose weights are not finite (diverged)."""
    sv = svdvals_per_seed(w.detach().flatten(2))
    p = sv / sv.sum(1, keepdim=True).clamp_min(1e-30)
    return (-(p * p.clamp_min(1e-30).log()).sum(1)).exp()


@OBSERVABLES.register("effective_rank", EffectiveRankParams)
class EffectiveRank(Observable):
    """effective_rank.<parameter>: entropy effective rank of each weight matrix"""

    @staticmethod
    def chosen(p: EffectiveRankParams, shapes: dict) -> list[str]:
        matrices = [n for n, s in shapes.items() if is_matrix(s)]
        if p.parameters is None:
            return matrices
        unknown = [n for n in p.parameters if n not in matrices]
        if unknown:
            raise ValueError(f"not weight matrices of this model: {', '.join(unknown)}; matrices: {', '.join(matrices)}")
        return list(p.parameters)

    def metric_names(self, p: EffectiveRankParams, run: RunSpec, arch: Architecture) -> list[str]:
        return [f"effective_rank.{n}" for n in EffectiveRank.chosen(p, arch.parameters)]

    def compute(self, p: EffectiveRankParams, ctx: EvalContext) -> dict:
        params = dict(ctx.model.named_parameters())
        names = EffectiveRank.chosen(p, {n: tuple(w.shape[1:]) for n, w in params.items()})
        return {f"effective_rank.{n}": effective_rank(params[n]) for n in names}
