"""proportion: the fraction of seeds whose value meets a condition, against a stated proportion.

Each run meets the condition or not (`meets: {above: v}` for value ≥ v, `{below: v}` for value ≤ v);
the count of runs that meet it is tested with the exact binomial test against `p0` (scipy). The
effect is the observed fraction minus p0, with the exact Clopper–Pearson CI. Runs pooled over the
listed conditions. A failed run counted against the prediction (analysis.failed_runs: against)
is one that does not meet the condition (for `greater`) or does (for `less`).

`meets: {diverged: true}` (or false) counts the runs that diverged (a non-finite loss) or did not: then a
diverged run is the outcome counted, not a failed run, and the prediction's `metric` (any metric its runs
log) is not read. A divergence boundary's draft (refute.components.events.boundary) is written so.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from refute.components.predictions import PREDICTIONS
from refute.registry import Params
from refute.components.predictions import power
from refute.components.predictions import Directional, TestResult, Unit, undefined


class Meets(Params):
    above: float | None = Field(None, description="a run meets the condition when its value ≥ above")
    below: float | None = Field(None, description="a run meets the condition when its value ≤ below")
    diverged: bool | None = Field(None, description="a run meets the condition when it diverged (true: a non-finite "
                                  "loss; its metric is not read) or when it did not (false)")

    @model_validator(mode="after")
    def _one(self):
        if sum(v is not None for v in (self.above, self.below, self.diverged)) != 1:
            raise ValueError("give exactly one of above, below, diverged")
        return self

    def __call__(self, v: np.ndarray) -> np.ndarray:
        if self.diverged is not None:  # the value is 1 for a diverged run, 0 otherwise (refute.stats.analyse)
            return v == (1.0 if self.diverged else 0.0)
        return v >= self.above if self.above is not None else v <= self.below

    def words(self) -> str:
        if self.diverged is not None:
            return "diverged" if self.diverged else "did not diverge"
        return f"value ≥ {self.above:g}" if self.above is not None else f"value ≤ {self.below:g}"


class Proportion(Directional):
    kind: Literal["proportion"] = Field(description="the fraction of seeds meeting a condition (exact binomial)")
    conditions: list[str] = Field(min_length=1, description="conditions whose runs are counted (pooled)")
    meets: Meets = Field(description="when a run counts as a success: {above: v} or {below: v}")
    p0: float = Field(gt=0, lt=1, description="the proportion tested against; the effect is fraction − p0")

    def conditions_used(self, available=None) -> list[str]:
        return list(self.conditions)

    def counts_divergence(self) -> bool:
        return self.meets.diverged is not None

    def least_favourable(self, unit: Unit) -> float | None:
        if self.direction == "two-sided":
            return None
        success = np.inf if self.meets.above is not None else -np.inf
        return -success if self.direction == "greater" else success

    def power(self, result: TestResult, data: pd.DataFrame, alpha: float) -> dict | None:
        effect, basis = self.planned_effect(result)
        sign = -1 if self.direction == "less" else 1
        p1 = self.p0 + sign * effect
        if not 0 < p1 < 1:
            return None
        return power.plan(effect, basis, result.n_min(), alpha, f"exact binomial, true fraction {p1:.3g}",
                          lambda k: power.binomial_power(self.p0, p1, k, alpha, self.direction),
                          min_n=1, unit="seeds in all")


@PREDICTIONS.register("proportion", Proportion)
def evaluate(pred: Proportion, data: pd.DataFrame, level: float = 0.95) -> TestResult:
    """the fraction of seeds meeting a condition (exact binomial test)"""
    from scipy import stats

    v = data[data.role == "y"].value.to_numpy(float)
    n = {"runs": len(v)}
    effect = f"fraction with {pred.meets.words()} − {pred.p0:g}"
    if len(v) < 1:
        return undefined("exact binomial test", effect, n, "no runs")
    k = int(pred.meets(v).sum())
    res = stats.binomtest(k, len(v), pred.p0, alternative=pred.direction)
    ci = stats.binomtest(k, len(v), pred.p0).proportion_ci(confidence_level=level, method="exact")  # two-sided
    frac = k / len(v)
    return TestResult("exact binomial test", float(k), float(res.pvalue), frac - pred.p0,
                      (float(ci.low) - pred.p0, float(ci.high) - pred.p0), effect, n,
                      {"successes": float(k), "fraction": frac}, ci_level=level)
