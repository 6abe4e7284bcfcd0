"""Event detectors: what an exploration points at, each a registered component with a contract.

An exploration (refute.spec.exploration) trains runs under varied conditions with no predictions; its
observations — every logged curve, and every run's curve reduced to one number per reduction — are
handed to every detector listed under `look.events`. A detector returns *candidate events*, each with a
p-value that is valid under pure noise (a p at or below u has probability at most u when nothing
happens). The observation stage corrects those p-values across every candidate of the exploration
(Holm), so the chance that a pure-noise exploration reports any event — and so drafts anything — is at
most `look.alpha` (5% by default), whatever the number of metrics, conditions and detectors.

The contract of a detector (`Detector`):

- `detect(p, obs)`: the candidate events in the observations (`Observations`);
- `draft(p, event, obs)`: the conditions and pre-registered predictions that would confirm one event on
  fresh seeds, and the seeds per condition a power analysis on the observed effect asks for (`DraftPlan`);
- `plot(p, event, obs, ax)`: the event's evidence figure on a matplotlib axis.

Registered detectors: transition (a sharp rise or drop after a plateau), optimum (an interior optimum of a
swept axis), split (seeds that fall in two groups: a dip test), power_law (a power law across a swept
axis, and the simple exponent it settles at), boundary (where runs stop reaching a threshold).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from pydantic import Field

from refute.registry import SLUG, Params, Registry, flat

# The columns of the two tables a detector reads.
CURVE_COLUMNS = ["condition", "seed", "step", "metric", "value"]
REDUCED_COLUMNS = ["condition", "seed", "metric", "reduce", "value"]
# Drafts plan their seeds for half the effect seen: an effect found by searching many places is an
# overestimate (the winner's curse), and half of it is the smallest effect of interest the draft states.
SHRINK = 0.5
MIN_DRAFT_SEEDS = 5  # fewer cannot decide anything after a correction across two predictions


class DetectorParams(Params):
    """Base of every detector's parameters: the registered name beside the detector's own fields."""

    name: str = Field(description="the detector: transition, optimum, split, power_law or boundary")


@dataclass(frozen=True)
class Line:
    """Conditions that differ only along one swept axis, ordered by its value."""

    axis: str
    xs: list[float]
    conditions: list[str]
    fixed: dict[str, Any]  # the other coordinates (and the named condition, under "condition")

    def label(self) -> str:
        rest = ", ".join(f"{k}={v}" for k, v in self.fixed.items() if v not in ("", None))
        return f"along {self.axis}" + (f" ({rest})" if rest else "")


@dataclass
class Observations:
    """What an exploration saw, as detectors read it.

    curves: condition, seed, step, metric, value (every logged evaluation and probe summary);
    reduced: condition, seed, metric, reduce, value (each run's curve reduced by each `look.reductions`);
    coords: condition → {swept dotted path: value}; named: condition → its named condition ('' if none);
    overrides: condition → every dotted field it sets (named overrides and swept values), for drafts;
    budget: condition → training steps; failed: condition → seeds whose loss diverged;
    reductions: reduction label → its spec (as written in a hypothesis's `reduce:`).
    """

    curves: pd.DataFrame
    reduced: pd.DataFrame
    coords: dict[str, dict[str, Any]]
    named: dict[str, str]
    overrides: dict[str, dict[str, Any]]
    budget: dict[str, int]
    failed: dict[str, set[int]] = field(default_factory=dict)
    reductions: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def from_curves(cls, curves: pd.DataFrame, coords: dict[str, dict[str, Any]], reductions: dict[str, dict],
                    budget: dict[str, int], named: dict[str, str] | None = None,
                    overrides: dict[str, dict[str, Any]] | None = None,
                    failed: dict[str, set[int]] | None = None) -> "Observations":
        """Observations from the curves alone: each (condition, seed, metric) curve reduced by every reduction
        (label → spec, as `reduce:` takes it)."""
        from refute.components.reductions import REDUCTIONS, apply

        specs = {label: REDUCTIONS.get(spec["name"]).params.model_validate(spec) for label, spec in reductions.items()}
        rows = []
        for (cond, seed, metric), g in curves.groupby(["condition", "seed", "metric"], sort=True):
            steps, values = g.step.to_numpy(), g.value.to_numpy(float)
            for label, spec in specs.items():
                rows.append((cond, int(seed), metric, label, apply(spec, steps, values, budget[cond])))
        reduced = pd.DataFrame(rows, columns=REDUCED_COLUMNS)
        return cls(curves[CURVE_COLUMNS], reduced, coords, named or {c: "" for c in coords},
                   overrides or {c: dict(v) for c, v in coords.items()}, budget, failed or {}, reductions)

    @property
    def conditions(self) -> list[str]:
        return list(self.coords)

    def axes(self) -> list[str]:
        return list(next(iter(self.coords.values()), {}))

    def lines(self, min_points: int = 3) -> list[Line]:
        """Every line of conditions along each numeric swept axis with at least `min_points` values."""
        out = []
        for axis in self.axes():
            groups: dict[tuple, list[tuple[float, str]]] = {}
            fixed_of: dict[tuple, dict] = {}
            for c, coord in self.coords.items():
                x = coord[axis]
                if isinstance(x, bool) or not isinstance(x, (int, float)):
                    break
                fixed = {"condition": self.named.get(c, ""), **{k: v for k, v in coord.items() if k != axis}}
                key = tuple(sorted((k, repr(v)) for k, v in fixed.items()))
                groups.setdefault(key, []).append((float(x), c))
                fixed_of[key] = fixed
            else:
                for key, pts in groups.items():
                    if len(pts) >= min_points:
                        pts.sort()
                        out.append(Line(axis, [x for x, _ in pts], [c for _, c in pts], fixed_of[key]))
        return out

    def values(self, condition: str, metric: str, reduce: str) -> np.ndarray:
        """The reduced values of one condition's seeds (ordered by seed; diverged runs left out)."""
        r = self.reduced
        sub = r[(r.condition == condition) & (r.metric == metric) & (r.reduce == reduce)].sort_values("seed")
        sub = sub[~sub.seed.isin(self.failed.get(condition, set()))]
        v = sub.value.to_numpy(float)
        return v[np.isfinite(v)]

    def series(self, condition: str, metric: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """seed → (steps, values) of one condition's metric (diverged runs left out)."""
        c = self.curves
        sub = c[(c.condition == condition) & (c.metric == metric)]
        out = {}
        for seed, g in sub.groupby("seed", sort=True):
            if int(seed) in self.failed.get(condition, set()):
                continue
            g = g.sort_values("step")
            out[int(seed)] = (g.step.to_numpy(float), g.value.to_numpy(float))
        return out

    def metrics(self) -> list[str]:
        return sorted(self.curves.metric.unique())

    def reduced_pairs(self) -> list[tuple[str, str]]:
        """Every (metric, reduction label) of the reduced table."""
        pairs = self.reduced[["metric", "reduce"]].drop_duplicates()
        return sorted(map(tuple, pairs.to_numpy()))


class Event(Params):
    """One thing an exploration saw: which detector, where, how strongly, and the numbers behind it."""

    id: str = Field(pattern=SLUG, description="a slug naming the event (also its figure's name)")
    detector: str
    metric: str
    reduce: str | None = Field(None, description="the reduction label (None: the detector read whole curves)")
    conditions: list[str]
    axis: str | None = None
    summary: str = Field(description="the event in one sentence")
    p: float = Field(ge=0, le=1, description="p-value under pure noise (before the correction across candidates)")
    p_adjusted: float | None = Field(None, description="Holm-corrected across every candidate of the exploration")
    stats: dict[str, Any] = Field(default_factory=dict, description="the detector's numbers (step, spread, ...)")
    figure: str | None = Field(None, description="the evidence figure, relative to the exploration's folder")


@dataclass
class DraftPlan:
    """What a detector proposes to confirm one event: conditions (name → dotted overrides of the
    exploration's base run), pre-registered predictions (as a hypothesis file writes them), the seeds per
    condition from a power analysis, an optional `analysis` block and the reasoning, for the draft's header."""

    conditions: dict[str, dict[str, Any]]
    predictions: list[dict]
    seeds: int
    why: list[str] = field(default_factory=list)
    statement: str = ""


class Detector(ABC):
    """An event detector (see the module docstring for the contract)."""

    @abstractmethod
    def detect(self, p: DetectorParams, obs: Observations) -> list[Event]: ...

    @abstractmethod
    def draft(self, p: DetectorParams, event: Event, obs: Observations) -> DraftPlan: ...

    @abstractmethod
    def plot(self, p: DetectorParams, event: Event, obs: Observations, ax) -> None: ...


EVENTS: Registry[Detector] = Registry("event detector", __name__, contract=Detector, params_base=DetectorParams)
# An entry of `look.events:` in an exploration: a name or {name, ...params}.
EventSpec = flat(EVENTS)


# --- shared arithmetic --------------------------------------------------------------------------------------

def holm(ps: list[float]) -> list[float]:
    """Holm's step-down adjustment (family-wise error under any dependence)."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    out, running = [1.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out


def seeds_for(power_at: Callable[[int], float], floor: int = MIN_DRAFT_SEEDS) -> int:
    """The smallest seed count with power ≥ 80% (refute.components.predictions.power), at least `floor`;
    the largest count the schema allows when even that is not enough."""
    from refute.components.predictions import power

    need = power._smallest(lambda n: power_at(int(n)), 2)
    return max(floor, need if need is not None else power.MAX_SEEDS)


def t_seeds(effect: float, sd: float, alpha: float, groups: int) -> int:
    """Seeds per condition for a one-sided t-test to detect `effect` with 80% power."""
    from refute.components.predictions import power

    if not (sd > 0) or not effect > 0:
        return MIN_DRAFT_SEEDS
    return seeds_for(lambda n: power.t_power(effect, sd, n, alpha, "greater", groups, rank=False))


def slug(*parts: Any) -> str:
    """A slug made of `parts` (lower case; anything else becomes '-'), at most 64 characters."""
    import re

    text = "-".join(str(p) for p in parts if p not in (None, ""))
    text = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    return (text or "event")[:64].rstrip("-_")


def fmt(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else str(x)


def reduce_spec(obs: Observations, label: str) -> Any:
    """The `reduce:` a draft's prediction writes for a reduction label (a name, or {name, ...params})."""
    spec = obs.reductions.get(label, {"name": label})
    return spec["name"] if set(spec) == {"name"} else dict(spec)


def band(ax, xs: list[float], groups: list[np.ndarray], label: str, log: bool = False) -> None:
    """Mean over seeds against x with every seed's value as a dot."""
    means = [float(np.mean(g)) if len(g) else math.nan for g in groups]
    line, = ax.plot(xs, means, marker="o", label=label)
    for x, g in zip(xs, groups):
        ax.scatter([x] * len(g), g, s=9, color=line.get_color(), alpha=0.5)
    if log:
        ax.set_xscale("log")
