"""no_trend: the value does not move with x, beyond a declared margin (an equivalence test on a trend).

"Accuracy does not depend on the learning rate" is a claim that a trend is negligible, not the
failure to find one. It is tested like an equivalence: the trend's effect (the same effects as the
trend kind, on the same x axis) must lie within ±margin, by two one-sided tests:

- ols / mixed: the slope (value per unit x, per decade with `log_x`), t-tests on the fitted slope
  (cluster-robust by seed, or a random intercept per seed, exactly as for trend); the margin is in
  value per unit x;
- spearman: Spearman's ρ, one-sided z-tests on Fisher's z with the Bonett–Wright variance; the margin
  is in ρ (0 < margin < 1).

It holds when both one-sided tests reject (p, the larger of the two, < α); it is contradicted when
the whole CI lies outside ±margin (a real trend).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from refute.components.predictions import PREDICTIONS
from refute.components.predictions import power
from refute.components.predictions.optimum import Optimum
from refute.components.predictions._axis import AlongAxis, FromMetrics, FromParam, levels, seeds_repeat
from refute.components.predictions import Interval, Phrase, TestResult, undefined
from refute.components.predictions.trend import fit_slope, rank_ci


class NoTrend(AlongAxis, Interval):
    kind: Literal["no_trend"] = Field(description="the value does not move with x: its trend lies within ±margin")
    metric: str | Optimum | None = Field(
        None, description="the metric measured at each condition's x (with x.param), or an optimum across a "
        "sweep (see refute.components.predictions.optimum); omit with x.metrics")
    x: FromParam | FromMetrics = Field(description="{param: dotted.field} across conditions, or "
                                                   "{metrics: {metric: x, ...}} within each run")
    conditions: list[str] | None = Field(None, description="conditions to include (default: all)")
    log_x: bool = Field(False, description="regress on log10(x): the slope (and its margin) is per decade of x")
    test: Literal["spearman", "ols", "mixed"] = Field(
        "ols", description="ols (slope) | mixed (slope, random intercept per seed) | spearman (rank correlation ρ)"
    )
    margin: float = Field(gt=0, description="the largest trend that counts as none: a slope in value per unit x "
                                            "(per decade with log_x), or a Spearman ρ (below 1)")

    @model_validator(mode="after")
    def _rho_margin(self):
        if self.test == "spearman" and not self.margin < 1:
            raise ValueError("with `test: spearman` the margin is a Spearman ρ: give 0 < margin < 1")
        return self

    def claim(self) -> list[Phrase]:
        what = "Spearman ρ" if self.test == "spearman" else \
            f"slope per {'decade of x' if self.log_x else 'unit x'}"
        return [Phrase("predicted "), Phrase("no trend", "strong"), Phrase(f": {what} within ±{self.margin:g}")]

    def bounds(self) -> tuple[float, float]:
        return (-self.margin, self.margin)

    def smallest_effect(self) -> float:
        return self.margin

    def power(self, result: TestResult, data: pd.DataFrame, alpha: float) -> dict | None:
        seeds = result.n.get("seeds", 0)
        if not seeds:
            return None
        if self.test == "spearman":
            per_seed = result.n.get("points", 0) / seeds
            zm = float(np.arctanh(self.margin))
            return power.plan(zm, "the margin (Fisher z), for a true ρ of 0", seeds, alpha,
                              f"TOST on Fisher z, {per_seed:.3g} points per seed",
                              lambda k: power.tost_power(zm, lambda j: 1 / np.sqrt(max(j * per_seed - 3, 1e-9)),
                                                         lambda j: 1e6 if j * per_seed > 3 else 0, k, alpha),
                              unit="seeds (each at every x)")
        sd = result.extra.get("se", float("nan")) * np.sqrt(seeds)
        if not sd > 0:
            return None
        return power.plan(self.margin, "the margin, for a true slope of 0", seeds, alpha,
                          f"TOST on the slope, standard error × √seeds = {sd:.4g}",
                          lambda k: power.tost_power(self.margin, lambda j: sd / np.sqrt(j), lambda j: j - 1, k, alpha),
                          unit="seeds (each at every x)")


@PREDICTIONS.register("no_trend", NoTrend)
def evaluate(pred: NoTrend, data: pd.DataFrame, level: float = 0.95) -> TestResult:
    """the value does not move with x: slope or Spearman ρ within ±margin (two one-sided tests)"""
    from scipy import stats

    data = data[data.role == "y"].copy()
    if pred.log_x:
        data["x"] = np.log10(data.x)
    n = {"points": len(data), "seeds": int(data.seed.nunique()), "levels": levels(data)}
    m = pred.margin
    if len(data) < 4 or n["levels"] < 2:
        return undefined(pred.test, "no trend", n, "a trend needs at least 4 points at 2 or more distinct x")
    if pred.test == "spearman":
        x, y = data.x.to_numpy(float), data.value.to_numpy(float)
        effect = "Spearman ρ between x and the value"
        if np.ptp(y) == 0:
            return undefined("Spearman ρ", effect, n, "every value is the same")
        rho = float(stats.spearmanr(x, y).statistic)
        z, se = float(np.arctanh(np.clip(rho, -1 + 1e-12, 1 - 1e-12))), float(np.sqrt((1 + rho**2 / 2) / (len(x) - 3)))
        zm = float(np.arctanh(m))
        p_low, p_high = float(stats.norm.sf((z + zm) / se)), float(stats.norm.cdf((z - zm) / se))
        binding = (z + zm) / se if p_low >= p_high else (z - zm) / se
        lo90, hi90 = rank_ci(rho, len(x), 1 - 2 * pred.alpha)
        notes = ["seeds are measured at several x, so points are not independent; `test: mixed` models the seed"] \
            if seeds_repeat(data) else []
        return TestResult("Spearman ρ, two one-sided tests (Fisher z, Bonett–Wright)", float(binding),
                          max(p_low, p_high), rho, rank_ci(rho, len(x), level), effect, n,
                          {"margin": m, "p_lower": p_low, "p_upper": p_high, "ci_tost_low": lo90, "ci_tost_high": hi90},
                          notes, level)
    effect = f"slope of the value per {'decade of x' if pred.log_x else 'unit x'}"
    fit = fit_slope(data, pred.test, level, n)
    if isinstance(fit, str):
        return undefined(pred.test, effect, n, fit)
    dist = stats.t(fit.df)
    p_low, p_high = float(dist.sf((fit.slope + m) / fit.se)), float(dist.cdf((fit.slope - m) / fit.se))
    binding = (fit.slope + m) / fit.se if p_low >= p_high else (fit.slope - m) / fit.se
    half = dist.ppf(1 - pred.alpha) * fit.se
    return TestResult(f"{fit.test}; two one-sided tests", float(binding), max(p_low, p_high), fit.slope, fit.ci,
                      effect, n, {**fit.extra, "margin": m, "p_lower": p_low, "p_upper": p_high,
                                  "ci_tost_low": fit.slope - half, "ci_tost_high": fit.slope + half},
                      fit.notes, level)
