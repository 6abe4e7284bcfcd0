"""Ablating components of one site and measuring the damage to a behaviour, batched over seeds.

A component is a unit of the site or a group of consecutive units (`group_size`, e.g. the units
of one attention head). Zero ablation sets them to 0; mean ablation to their mean over the
examples, which removes the information they carry but keeps their average contribution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from refute.components.probes import ExampleParams, check_site
from refute.components.probes.hooks import activations, forward, replace_units

if TYPE_CHECKING:
    from refute.spec.schema import RunSpec
    import torch


class AblationBase(ExampleParams):
    site: str = Field(description="the site whose components are ablated, e.g. hidden.0")
    mode: Literal["zero", "mean"] = Field("mean", description="replace ablated units by 0, or by their mean over the examples")
    behaviour: Literal["accuracy", "loss"] = Field(
        "accuracy", description="what ablation damages: damage = clean − ablated accuracy, or ablated − clean loss"
    )
    group_size: int = Field(1, ge=1, description="units per component (1: each unit is a component)")
    threshold: float = Field(
        0.1, gt=0, description="a component is responsible when ablating it alone does at least this much damage"
    )


def check_components(p: AblationBase, run: RunSpec, anatomy) -> list[str]:
    from refute.components.tasks import task_info

    issues = check_site(p.site, anatomy, run.model.name)
    if not issues and anatomy.sites[p.site] % p.group_size:
        issues.append(f"group_size: {p.group_size} does not divide the {anatomy.sites[p.site]} units of {p.site!r}")
    if p.behaviour == "accuracy" and task_info(run.task).objective != "classification":
        issues.append("behaviour: 'accuracy' needs a classification task; use 'loss'")
    return issues


class Ablator:
    """The model on fixed examples, with one clean pass done; `damage(mask)` costs one more pass."""

    def __init__(self, model, x: torch.Tensor, y: torch.Tensor, objective: str, p: AblationBase):
        from refute.components import objectives

        self.model, self.x, self.p, self.objective = model, x, p, objective
        self.y = objectives.shared(y, model.n_seeds)
        out, acts = activations(model, x, [p.site])
        a = acts[p.site]
        self.units = a.shape[-1]
        self.n_components = self.units // p.group_size
        self.fill = a.flatten(1, -2).mean(1) if p.mode == "mean" else 0.0  # [S, units] or 0
        self.clean = self._measure(out)
        self.passes = 1

    def _measure(self, out: torch.Tensor) -> torch.Tensor:
        from refute.components import objectives

        if self.p.behaviour == "accuracy":
            return objectives.accuracy(out, self.y)
        return objectives.loss(out, self.y, self.objective)

    def unit_mask(self, components: list[list[int]]) -> torch.Tensor:
        """[S, units]: per seed, the units of that seed's components."""
        import torch

        mask = torch.zeros(len(components), self.units, dtype=torch.bool)
        g = self.p.group_size
        for i, comps in enumerate(components):
            for c in comps:
                mask[i, c * g:(c + 1) * g] = True
        return mask

    def damage(self, components: list[list[int]]) -> torch.Tensor:
        """[S]: the damage of ablating, in each seed, that seed's list of components (one forward pass)."""
        out = forward(self.model, self.x, {self.p.site: replace_units(self.unit_mask(components), self.fill)})
        self.passes += 1
        value = self._measure(out)
        return self.clean - value if self.p.behaviour == "accuracy" else value - self.clean

    def each(self) -> torch.Tensor:
        """[S, components]: the damage of every component ablated alone (one pass per component)."""
        import torch

        S = self.model.n_seeds
        return torch.stack([self.damage([[c]] * S) for c in range(self.n_components)], dim=1)
