"""activations: capture a model's activations at named sites and summarize each site.

Per site and seed: the mean L2 norm of an example's activation vector, the fraction of entries
that are positive (live units, for ReLU layers), and the participation ratio of the activation
covariance (an effective dimensionality: 1 when every example lies on one line, the number of
units when variance is spread evenly). Per unit: its mean activation. With `save: true` the raw
activations are also kept in the probe's folder (activations.pt) for a closer look.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from refute import io
from refute.components.probes import ExampleParams, ProbeContext, Table, check_sites, chosen_sites
from refute.components.probes.hooks import activations
from refute.components.probes import PROBES, Probe

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec
    import torch


class ActivationParams(ExampleParams):
    sites: list[str] | None = Field(None, description="the sites to capture (default: every site of the model)")
    save: bool = Field(False, description="also write the raw activations to the probe's folder (activations.pt)")
    units: bool = Field(True, description="also report each unit's mean activation")


def participation_ratio(a: torch.Tensor) -> torch.Tensor:
    """a: [S, N, D] -> [S]: (Σλ)² / Σλ² of the covariance eigenvalues λ."""
    import torch

    c = a - a.mean(1, keepdim=True)
    lam = torch.linalg.svdvals(c.double()).pow(2)
    return lam.sum(1).pow(2) / lam.pow(2).sum(1).clamp_min(1e-300)


@PROBES.register("activations", ActivationParams)
class Activations(Probe):
    """capture activations at named sites: norm, live fraction, effective dimension"""

    def check(self, p: ActivationParams, run: RunSpec, anatomy: Architecture) -> list[str]:
        return check_sites(p.sites, anatomy, run.model.name)

    def outputs(self, p: ActivationParams, run: RunSpec, anatomy: Architecture) -> list[tuple[str, str]]:
        return [(m, s) for s in chosen_sites(p.sites, anatomy) for m in ("norm", "live_fraction", "participation_ratio")]

    def compute(self, p: ActivationParams, ctx: ProbeContext) -> Table:
        import torch

        sites = chosen_sites(p.sites, ctx.anatomy)
        x, _ = ctx.examples(p.split, p.max_examples)
        _, acts = activations(ctx.model, x, sites)
        t = Table(ctx.seeds)
        for s in sites:
            a = acts[s].flatten(1, -2).double()  # [S, N, units], positions folded into examples
            t.add("norm", a.norm(dim=-1).mean(1), site=s)
            t.add("live_fraction", (a > 0).double().mean((1, 2)), site=s)
            t.add("participation_ratio", participation_ratio(a), site=s)
            if p.units:
                mean = a.mean(1)
                for u in range(a.shape[-1]):
                    t.add("unit_mean", mean[:, u], site=s, unit=u)
        if p.save and ctx.out_dir is not None:
            with io.atomic_path(ctx.out_dir / f"activations-step{ctx.step}.pt") as tmp:
                torch.save({"seeds": ctx.seeds, "step": ctx.step, "x": x, "sites": acts}, tmp)
        return t
