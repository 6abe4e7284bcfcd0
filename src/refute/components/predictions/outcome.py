"""From test results to outcomes per prediction, and from outcomes to one verdict.

Every test gives a p-value, an effect estimate and a CI. The p-value is corrected across the
hypothesis's predictions (Holm by default); the CI used to contradict is widened to match
(level 1 − α/k for k predictions, Bonferroni), so a hypothesis is falsely refuted at most as
often as it is falsely supported.

Directional predictions (compare, threshold, trend, correlation, proportion) say the effect lies
beyond a smallest effect of interest δ (≥ 0) in the predicted direction:

- holds:         p < α and the estimate is at least δ in the predicted direction;
- contradicted:  the whole CI lies short of δ in the predicted direction (the effect is credibly
                 smaller than what the prediction called interesting, or has the wrong sign);
- inconclusive:  anything else: the data are compatible both with the claim and with its failure.
A two-sided prediction holds when p < α and |estimate| ≥ δ, and is contradicted when δ > 0 and
the CI lies inside (−δ, δ).

Interval predictions (equivalence, power_law) say the effect lies in [low, high]:

- holds:         both one-sided tests reject an effect outside the interval (the larger of their
                 p-values < α; for t-based tests, the (1 − 2α) CI lies inside the interval);
- contradicted:  the whole CI lies outside the interval;
- inconclusive:  anything else.

Verdict: INVALID when a run failed or diverged and failed runs invalidate (the default);
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


def _ci(level: float) -> str:
    return f"{100 * level:.4g}% CI"


def _cannot(n_min: int) -> Outcome:
    return Outcome(UNDECIDED, f"the test could not be computed (smallest group n = {n_min}); "
                   "at least 2 runs per group are needed", "more seeds")


def judge(direction: str, alpha: float, min_effect: float, p: float, estimate: float,
          ci: tuple[float, float], n_min: int, level: float = 0.95) -> Outcome:
    """The outcome of a directional prediction from its (corrected) p-value, effect estimate and CI."""
    if n_min < 2 or math.isnan(p) or math.isnan(estimate):
        return _cannot(n_min)
    lo, hi = ci
    d = min_effect
    ci_name = _ci(level)
    if direction == "two-sided":
        if p < alpha and abs(estimate) >= d:
            return Outcome(HOLDS, f"p = {_fmt(p)} < α = {alpha:g} and |effect| = {_fmt(abs(estimate))} ≥ δ = {d:g}",
                           f"p rising to α or |effect| falling below δ = {d:g}")
        if d > 0 and -d < lo and hi < d:
            return Outcome(CONTRADICTED, f"{ci_name} [{_fmt(lo)}, {_fmt(hi)}] lies inside (−δ, δ) = (−{d:g}, {d:g})",
                           "a CI reaching beyond ±δ")
        return Outcome(UNDECIDED, _undecided(p, alpha, lo, hi, d, ci_name), "more seeds to narrow the CI")
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
        return Outcome(CONTRADICTED, f"the whole {ci_name} [{_fmt(lo)}, {_fmt(hi)}] lies in {what}",
                       f"a CI reaching δ = {d:g} in the predicted direction")
    return Outcome(UNDECIDED, _undecided(p, alpha, lo, hi, d, ci_name), "more seeds to narrow the CI")


def judge_interval(low: float, high: float, alpha: float, p: float, estimate: float,
                   ci: tuple[float, float], n_min: int, level: float = 0.95) -> Outcome:
    """The outcome of an interval prediction (the effect lies in [low, high]) from the p-value of its
    two one-sided tests (the larger of the two) and the CI of the effect."""
    if n_min < 2 or math.isnan(p) or math.isnan(estimate):
        return _cannot(n_min)
    span = f"[{_fmt(low)}, {_fmt(high)}]"
    lo, hi = ci
    ci_name = _ci(level)
    if p < alpha:
        return Outcome(HOLDS, f"both one-sided tests reject an effect outside {span}: p = {_fmt(p)} < α = {alpha:g} "
                       f"(estimate {_fmt(estimate)})", f"p ≥ α = {alpha:g}: a CI reaching past {span}")
    if lo > high or hi < low:
        return Outcome(CONTRADICTED, f"the whole {ci_name} [{_fmt(lo)}, {_fmt(hi)}] lies outside {span}",
                       f"a CI reaching back into {span}")
    return Outcome(UNDECIDED, f"p = {_fmt(p)} ≥ α = {alpha:g} and the {ci_name} [{_fmt(lo)}, {_fmt(hi)}] overlaps "
                   f"{span} without lying inside it: too few seeds to decide", "more seeds to narrow the CI")


def _undecided(p: float, alpha: float, lo: float, hi: float, d: float, ci_name: str = "95% CI") -> str:
    if p < alpha:
        return (f"p = {_fmt(p)} < α = {alpha:g}, but the estimate falls short of δ = {d:g} while the {ci_name} "
                f"[{_fmt(lo)}, {_fmt(hi)}] still reaches it")
    return (f"p = {_fmt(p)} ≥ α = {alpha:g} and the {ci_name} [{_fmt(lo)}, {_fmt(hi)}] includes both no effect "
            f"and effects of δ = {d:g} or more: too few seeds to decide")


def decide(outcomes: dict[str, Outcome], failures: list[str]) -> tuple[str, list[str]]:
    """The hypothesis verdict and the reasons for it, most important first. `failures`: the failed runs
    that invalidate the results (empty when failed runs count against the predictions instead)."""
    if failures:
        return INVALID, [f"run failure: {f}" for f in failures]
    contradicted = [k for k, o in outcomes.items() if o.status == CONTRADICTED]
    if contradicted:
        return REFUTED, [f"prediction {k} is contradicted: {outcomes[k].reason}" for k in contradicted]
    undecided = [k for k, o in outcomes.items() if o.status == UNDECIDED]
    if undecided:
        return INCONCLUSIVE, [f"prediction {k} is undecided: {outcomes[k].reason}" for k in undecided]
    return SUPPORTED, [f"prediction {k} holds: {o.reason}" for k, o in outcomes.items()]
