"""From test results to outcomes per prediction, and from outcomes to one verdict.

A directional prediction says the effect lies beyond its smallest effect of interest δ (≥ 0) in
the predicted direction. With the test's p-value, its estimate and 95% CI of the effect:

- holds:         p < α and the estimate is at least δ in the predicted direction;
- contradicted:  the whole CI lies short of δ in the predicted direction (the effect is credibly
                 smaller than what the prediction called interesting, or has the wrong sign);
- inconclusive:  anything else: the data are compatible both with the claim and with its failure.

A two-sided prediction holds when p < α and |estimate| ≥ δ, and is contradicted when δ > 0 and
the CI lies inside (−δ, δ).

Verdict: INVALID when a run failed or diverged (results cannot be trusted as they stand);
REFUTED when any prediction is contradicted; SUPPORTED when every prediction holds;
INCONCLUSIVE otherwise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

SUPPORTED, REFUTED, INCONCLUSIVE, INVALID = "SUPPORTED", "REFUTED", "INCONCLUSIVE", "INVALID"
HOLDS, CONTRADICTED, UNDECIDED = "holds", "contradicted", "inconclusive"


@dataclass
class Outcome:
    status: str
    reason: str
    would_change: str

    def to_dict(self) -> dict:
        return asdict(self)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def judge(direction: str, alpha: float, min_effect: float, p: float, estimate: float,
          ci: tuple[float, float], n_min: int) -> Outcome:
    """The outcome of one prediction from its test's p-value, effect estimate and 95% CI."""
    if n_min < 2 or math.isnan(p) or math.isnan(estimate):
        return Outcome(UNDECIDED, f"the test could not be computed (smallest group n = {n_min}); "
                       "at least 2 runs per group are needed", "more seeds")
    lo, hi = ci
    d = min_effect
    if direction == "two-sided":
        if p < alpha and abs(estimate) >= d:
            return Outcome(HOLDS, f"p = {_fmt(p)} < α = {alpha:g} and |effect| = {_fmt(abs(estimate))} ≥ δ = {d:g}",
                           f"p rising to α or |effect| falling below δ = {d:g}")
        if d > 0 and -d < lo and hi < d:
            return Outcome(CONTRADICTED, f"95% CI [{_fmt(lo)}, {_fmt(hi)}] lies inside (−δ, δ) = (−{d:g}, {d:g})",
                           "a CI reaching beyond ±δ")
        return Outcome(UNDECIDED, _undecided(p, alpha, lo, hi, d), "more seeds to narrow the CI")
    sign = 1.0 if direction == "greater" else -1.0
    est = sign * estimate
    # The CI as seen in the predicted direction: its far end is what the data still allow.
    far = max(sign * lo, sign * hi)
    if p < alpha and est >= d:
        return Outcome(HOLDS, f"p = {_fmt(p)} < α = {alpha:g}, effect {_fmt(estimate)} in the predicted direction"
                       + (f" and at least δ = {d:g}" if d else ""),
                       f"p ≥ α = {alpha:g}, or an effect short of δ = {d:g}")
    if far < d:
        what = "the opposite direction" if far < 0 else f"short of δ = {d:g}"
        return Outcome(CONTRADICTED, f"the whole 95% CI [{_fmt(lo)}, {_fmt(hi)}] lies in {what}",
                       f"a CI reaching δ = {d:g} in the predicted direction")
    return Outcome(UNDECIDED, _undecided(p, alpha, lo, hi, d), "more seeds to narrow the CI")


def _undecided(p: float, alpha: float, lo: float, hi: float, d: float) -> str:
    if p < alpha:
        return (f"p = {_fmt(p)} < α = {alpha:g}, but the estimate falls short of δ = {d:g} while the 95% CI "
                f"[{_fmt(lo)}, {_fmt(hi)}] still reaches it")
    return (f"p = {_fmt(p)} ≥ α = {alpha:g} and the 95% CI [{_fmt(lo)}, {_fmt(hi)}] includes both no effect "
            f"and effects of δ = {d:g} or more: too few seeds to decide")


def decide(outcomes: dict[str, Outcome], failures: list[str]) -> tuple[str, list[str]]:
    """The hypothesis verdict and the reasons for it, most important first."""
    if failures:
        return INVALID, [f"run failure: {f}" for f in failures]
    contradicted = [k for k, o in outcomes.items() if o.status == CONTRADICTED]
    if contradicted:
        return REFUTED, [f"prediction {k} is contradicted: {outcomes[k].reason}" for k in contradicted]
    undecided = [k for k, o in outcomes.items() if o.status == UNDECIDED]
    if undecided:
        return INCONCLUSIVE, [f"prediction {k} is undecided: {outcomes[k].reason}" for k in undecided]
    return SUPPORTED, [f"prediction {k} holds: {o.reason}" for k, o in outcomes.items()]
