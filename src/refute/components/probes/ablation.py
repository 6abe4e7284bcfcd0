"""ablation: zero- or mean-ablate each component of a site (and the whole site) and measure the damage.

Rows per component (unit = component index): the damage of ablating it alone. Summary rows: the
damage of ablating the whole site, the largest single-component damage, and how many components
are responsible (damage >= threshold).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from refute.components.probes._ablate import AblationBase, Ablator, check_components
from refute.components.probes import ProbeContext, Table
from refute.components.probes import PROBES, Probe

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec


class AblationParams(AblationBase):
    pass


@PROBES.register("ablation", AblationParams)
class Ablation(Probe):
    """damage to accuracy or loss from ablating each component of a site"""

    def check(self, p: AblationParams, run: RunSpec, anatomy: Architecture) -> list[str]:
        return check_components(p, run, anatomy)

    def outputs(self, p: AblationParams, run: RunSpec, anatomy: Architecture) -> list[tuple[str, str]]:
        return [(m, p.site) for m in ("site_damage", "max_damage", "n_responsible", "clean")]

    def compute(self, p: AblationParams, ctx: ProbeContext) -> Table:
        x, y = ctx.examples(p.split, p.max_examples)
        ab = Ablator(ctx.model, x, y, ctx.data.objective, p)
        each = ab.each()
        whole = ab.damage([list(range(ab.n_components))] * ctx.n_seeds)
        t = Table(ctx.seeds)
        t.add("clean", ab.clean, site=p.site)
        t.add("site_damage", whole, site=p.site)
        t.add("max_damage", each.max(1).values, site=p.site)
        t.add("n_responsible", (each >= p.threshold).sum(1), site=p.site)
        for c in range(ab.n_components):
            t.add("damage", each[:, c], site=p.site, unit=c)
        return t
