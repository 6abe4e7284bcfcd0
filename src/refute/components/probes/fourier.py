"""fourier: how much of a token-indexed weight matrix lies in a few Fourier frequencies (modular arithmetic).

Networks that grok (a + b) mod p represent tokens with a handful of frequencies k: the embedding
of token t is built from cos(2πkt/p) and sin(2πkt/p) (Nanda et al. 2023). The probe takes the
discrete Fourier transform of the matrix along its token axis and reports the fraction of its
squared norm in the top-k frequencies; a random matrix spreads its norm evenly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from refute.components.probes import ProbeContext, ProbeParams, Table
from refute.components.probes import PROBES, Probe

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec
    import torch


class FourierParams(ProbeParams):
    matrix: Literal["embed", "unembed"] = Field(
        "embed", description="the token-indexed matrix: the embedding table, or the output layer per class"
    )
    top_k: int = Field(5, ge=1, le=1000, description="how many frequencies the top-k fraction counts")
    mass: float = Field(0.9, gt=0, le=1, description="key_frequencies is the fewest frequencies holding this fraction")
    include_constant: bool = Field(
        False, description="count the constant component (frequency 0); by default the norm is that of the "
        "matrix with its mean over tokens removed"
    )


def frequency_power(m: torch.Tensor, include_constant: bool = False) -> torch.Tensor:
    """m: [S, n, d] indexed by token along dim 1 -> [S, n//2 + 1] fraction of squared norm per frequency.

    Frequencies k and n − k of a real signal are one frequency; by Parseval the fractions sum to 1.
    """
    import torch

    n = m.shape[1]
    power = torch.fft.rfft(m.double(), dim=1).abs().pow(2).sum(-1)
    power[:, 1:(n + 1) // 2] *= 2  # the mirrored frequency n − k (not for 0, nor for n/2 when n is even)
    if not include_constant:
        power[:, 0] = 0
    return power / power.sum(1, keepdim=True).clamp_min(1e-300)


@PROBES.register("fourier", FourierParams)
class Fourier(Probe):
    """fraction of a token matrix's norm in its top-k Fourier frequencies"""

    def check(self, p: FourierParams, run: RunSpec, anatomy: Architecture) -> list[str]:
        if p.matrix not in anatomy.matrices:
            have = ", ".join(anatomy.matrices) or "none"
            return [f"matrix: model {run.model.name!r} has no token matrix {p.matrix!r} in this condition "
                    f"(it has: {have})"]
        return []

    def outputs(self, p: FourierParams, run: RunSpec, anatomy: Architecture) -> list[tuple[str, str]]:
        return [("top_k_fraction", p.matrix), ("key_frequencies", p.matrix)]

    def compute(self, p: FourierParams, ctx: ProbeContext) -> Table:
        import torch

        with torch.no_grad():
            frac = frequency_power(ctx.model.token_matrix(p.matrix), p.include_constant)
        t = Table(ctx.seeds)
        ordered = frac.sort(1, descending=True).values
        t.add("top_k_fraction", ordered[:, : p.top_k].sum(1), site=p.matrix)
        t.add("key_frequencies", (ordered.cumsum(1) < p.mass - 1e-12).sum(1) + 1, site=p.matrix)
        start = 0 if p.include_constant else 1
        for k in range(start, frac.shape[1]):
            t.add("power_fraction", frac[:, k], site=p.matrix, unit=k)
        return t
