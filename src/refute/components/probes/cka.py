"""cka: linear centered kernel alignment between representations (Kornblith et al. 2019).

CKA compares two representations of the same examples up to rotation and isotropic scaling:
1 for the same representation (or an orthogonal transform of it), near 0 for unrelated ones.
Between `seeds` (a site in each seed against the same site in every other seed), between `sites`
(two sites of one model), or between `conditions` (this condition's site against a reference
condition's, seed by seed: other widths, architectures or training).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from refute.components.probes import ExampleParams, ProbeContext, Table, check_site
from refute.components.probes.hooks import activations
from refute.components.probes import PROBES, Probe
from refute.registry import only_with

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec
    import torch


class CKAParams(ExampleParams):
    site: str = Field(description="the site compared, e.g. hidden.0")
    between: Literal["seeds", "sites", "conditions"] = Field(
        "seeds", description="compare the site across seeds, with another site, or with another condition"
    )
    other_site: str | None = Field(None, description="between: sites — the second site",
                                   json_schema_extra=only_with(between="sites"))
    reference: str | None = Field(None, description="between: conditions — the condition compared against",
                                  json_schema_extra=only_with(between="conditions"))
    reference_site: str | None = Field(None, description="between: conditions — its site (default: the same name)",
                                       json_schema_extra=only_with(between="conditions"))

    @model_validator(mode="after")
    def _mode_fields(self):
        if self.between == "sites" and not self.other_site:
            raise ValueError("between: sites needs other_site")
        if self.between == "conditions" and not self.reference:
            raise ValueError("between: conditions needs reference (a condition name)")
        return self


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x: [..., N, p], y: [..., N, q] (the same N examples) -> [...] linear CKA."""
    x = x.double() - x.double().mean(-2, keepdim=True)
    y = y.double() - y.double().mean(-2, keepdim=True)
    xy = (x.transpose(-1, -2) @ y).pow(2).sum((-1, -2))
    xx = (x.transpose(-1, -2) @ x).pow(2).sum((-1, -2)).sqrt()
    yy = (y.transpose(-1, -2) @ y).pow(2).sum((-1, -2)).sqrt()
    return xy / (xx * yy).clamp_min(1e-300)


@PROBES.register("cka", CKAParams)
class CKA(Probe):
    """linear CKA of a site across seeds, against another site, or against another condition"""

    def reference(self, p: CKAParams) -> tuple[str, str] | None:
        """(condition, site) whose model this probe also needs, if any."""
        return (p.reference, p.reference_site or p.site) if p.between == "conditions" else None

    def check(self, p: CKAParams, run: RunSpec, anatomy: Architecture) -> list[str]:
        issues = check_site(p.site, anatomy, run.model.name)
        if p.between == "sites":
            issues += check_site(p.other_site, anatomy, run.model.name, "other_site")
        if p.between == "seeds" and len(run.seeds) < 2:
            issues.append("between: seeds needs at least two seeds")
        return issues

    def outputs(self, p: CKAParams, run: RunSpec, anatomy: Architecture) -> list[tuple[str, str]]:
        return [("cka", p.site)]

    def compute(self, p: CKAParams, ctx: ProbeContext) -> Table:
        x, _ = ctx.examples(p.split, p.max_examples)
        sites = [p.site] + ([p.other_site] if p.between == "sites" else [])
        _, acts = activations(ctx.model, x, sites)
        a = acts[p.site].flatten(2)  # [S, N, features]
        t = Table(ctx.seeds)
        if p.between == "sites":
            t.add("cka", linear_cka(a, acts[p.other_site].flatten(2)), site=p.site)
        elif p.between == "conditions":
            _, ref = activations(ctx.reference.model, x, [p.reference_site or p.site])
            t.add("cka", linear_cka(a, ref[p.reference_site or p.site].flatten(2)), site=p.site)
        else:
            S = ctx.n_seeds
            pairs = linear_cka(a[:, None], a[None, :])  # [S, S]
            t.add("cka", (pairs.sum(1) - pairs.diagonal()) / (S - 1), site=p.site)
            for j, seed in enumerate(ctx.seeds):
                t.add("cka_with_seed", pairs[:, j], site=p.site, unit=seed)
        return t
