"""power_law: value ∝ x^b with the exponent b inside a declared range (a scaling claim).

`form: pure` (the default): the exponent is the slope of log(value) on log(x), fitted by OLS
(cluster-robust by seed when a seed is measured at several x) or by a mixed model with a random
intercept per seed (statsmodels). `form: saturating`: value = E + A·x^b with an asymptote E ≥ 0, as
scaling-law work fits it, by nonlinear least squares on log(value) (see
refute.components.predictions.law_fit). The claim `exponent: {low, high}` is tested like an
equivalence: two one-sided t-tests on b, H0 b ≤ low and H0 b ≥ high (either end may be left open,
making it one one-sided test); p is the larger. It holds when both reject, and is contradicted when
the 95% CI of b lies outside the range.

A law fitted to data from another law still gives an exponent, so every fit is checked by a
lack-of-fit F test (pure error from the runs at each x): below `lack_of_fit` (0.05) the law is
misspecified and the prediction undecided, whatever its exponent. Every value must be positive: a
power law says nothing about zeros.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from refute.components.predictions import PREDICTIONS
from refute.registry import Params
from refute.components.predictions import power
from refute.components.predictions.optimum import Optimum
from refute.components.predictions._axis import AlongAxis, FromMetrics, FromParam, axis_check, levels
from refute.components.predictions import Interval, Phrase, TestResult, undefined
from refute.components.predictions.law_fit import fit_saturating, lack_of_fit, saturating
from refute.components.predictions.outcome import UNDECIDED, Outcome
from refute.components.predictions.trend import fit_slope


class ExponentRange(Params):
    low: float | None = Field(None, description="the smallest exponent the claim allows (omit: no lower end)")
    high: float | None = Field(None, description="the largest exponent the claim allows (omit: no upper end)")

    @model_validator(mode="after")
    def _ordered(self):
        if self.low is None and self.high is None:
            raise ValueError("give low, high or both")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError("low must be < high")
        return self


class PowerLaw(AlongAxis, Interval):
    kind: Literal["power_law"] = Field(description="value ∝ x^exponent, with the exponent in a declared range")
    metric: str | Optimum | None = Field(
        None, description="the metric measured at each condition's x (with x.param), or an optimum across a "
        "sweep (see refute.components.predictions.optimum)")
    x: FromParam | FromMetrics = Field(description="{param: dotted.field} across conditions, or "
                                                   "{metrics: {metric: x, ...}} within each run")
    conditions: list[str] | None = Field(None, description="conditions to include (default: all)")
    exponent: ExponentRange = Field(description="the predicted range of the exponent: {low, high}")
    test: Literal["ols", "mixed"] = Field("ols", description="ols (log–log least squares) | mixed (random "
                                                             "intercept per seed); pure form only")
    form: Literal["pure", "saturating"] = Field(
        "pure", description="pure: value = A·x^b | saturating: value = E + A·x^b, with an asymptote E ≥ 0 "
                            "(nonlinear least squares on log value)")
    lack_of_fit: float | None = Field(
        0.05, gt=0, lt=1, description="significance level of the lack-of-fit F test: below it the law is "
                                      "misspecified and the prediction undecided (null: no test)")

    @model_validator(mode="after")
    def _form(self):
        if self.form == "saturating" and self.test == "mixed":
            raise ValueError("form: saturating is fitted by nonlinear least squares (cluster-robust by seed when "
                             "seeds repeat across x); test: mixed applies only to the pure form")
        return self

    def outcome(self, result: TestResult, p: float, ci: tuple[float, float], level: float = 0.95) -> Outcome:
        lof = result.extra.get("lack_of_fit_p")
        if self.lack_of_fit is not None and lof is not None and lof < self.lack_of_fit:
            other = ("; the saturating form E + A·x^b (form: saturating) may fit" if self.form == "pure" else
                     "; the data follow another law")
            return Outcome(UNDECIDED, f"the data depart from the {self.form} power law (lack of fit: F = "
                                      f"{result.extra['lack_of_fit_F']:.4g}, p {_p(lof)} < {self.lack_of_fit:g}): "
                                      f"a misspecified law's exponent ({result.estimate:.4g}) is no evidence{other}",
                           "data that follow the declared law, or a law that fits them")
        return super().outcome(result, p, ci, level)

    def claim(self) -> list[Phrase]:
        lo = "−∞" if self.exponent.low is None else f"{self.exponent.low:g}"
        hi = "∞" if self.exponent.high is None else f"{self.exponent.high:g}"
        return [Phrase(f"exponent predicted in [{lo}, {hi}]")]

    def check_kind(self, conditions) -> list[tuple[str, str]]:
        return axis_check(self.x, self.metric, self.conditions_used(list(conditions)), conditions, positive=True,
                          least=3 if self.form == "saturating" else 2)

    def bounds(self) -> tuple[float, float]:
        lo, hi = self.exponent.low, self.exponent.high
        return (-math.inf if lo is None else lo, math.inf if hi is None else hi)

    def power(self, result: TestResult, data: pd.DataFrame, alpha: float) -> dict | None:
        seeds, se = result.n.get("seeds", 0), result.extra.get("se", float("nan"))
        if not seeds or not se > 0:
            return None
        sd = se * np.sqrt(seeds)
        low, high = self.bounds()
        if math.isfinite(low) and math.isfinite(high):
            half = (high - low) / 2
            return power.plan(half, "half the exponent range, for a true exponent at its centre", seeds, alpha,
                              f"TOST on the slope, standard error × √seeds = {sd:.4g}",
                              lambda k: power.tost_power(half, lambda j: sd / np.sqrt(j), lambda j: j - 1, k, alpha),
                              unit="seeds (each at every x)")
        # One open end: plan for a true exponent as far inside the bound as the estimate is.
        bound = low if math.isfinite(low) else high
        distance = abs(result.estimate - bound) if math.isfinite(result.estimate) else float("nan")
        return power.plan(distance, "the observed distance of the exponent from the bound", seeds, alpha,
                          f"one-sided slope t-test over seeds, standard error × √seeds = {sd:.4g}",
                          lambda k: power.t_power(distance, sd, k, alpha, "greater", 1, False),
                          unit="seeds (each at every x)")


@PREDICTIONS.register("power_law", PowerLaw)
def evaluate(pred: PowerLaw, data: pd.DataFrame, level: float = 0.95) -> TestResult:
    """value ∝ x^exponent with the exponent in a range (log–log fit, two one-sided tests)"""
    from scipy import stats

    data = data[data.role == "y"].copy()
    n = {"points": len(data), "seeds": int(data.seed.nunique()), "levels": levels(data)}
    effect = "exponent b in value ∝ x^b (log–log slope)"
    if (data.value <= 0).any():
        return undefined(pred.test, effect, n, f"{int((data.value <= 0).sum())} value(s) ≤ 0: a power law needs "
                                               "positive values (reduce to a positive quantity, e.g. a loss)")
    if len(data) < 3 or n["levels"] < 2:
        return undefined(pred.test, effect, n, "a power law needs at least 3 points at 2 or more distinct x")
    data["x"], data["value"] = np.log(data.x), np.log(data.value)
    if pred.form == "saturating":
        effect = "exponent b in value = E + A·x^b"
        fit = fit_saturating(data, level, n)
    else:
        fit = fit_slope(data, pred.test, level, n)
    if isinstance(fit, str):
        return undefined(pred.test, effect, n, fit)
    if pred.lack_of_fit is not None:
        fitted, k = _fitted(pred, fit, data)
        lof = lack_of_fit(data, fitted, k)
        fit.notes.append(lof) if isinstance(lof, str) else fit.extra.update(lof)
    low, high = pred.bounds()
    dist = stats.t(fit.df)
    p_low = float(dist.sf((fit.slope - low) / fit.se)) if math.isfinite(low) else 0.0
    p_high = float(dist.cdf((fit.slope - high) / fit.se)) if math.isfinite(high) else 0.0
    binding = (fit.slope - low) / fit.se if p_low >= p_high else (fit.slope - high) / fit.se
    tost = 1 - 2 * pred.alpha
    half = dist.ppf(0.5 + tost / 2) * fit.se
    return TestResult(f"{fit.test}, log–log; two one-sided tests" if pred.form == "pure" else
                      f"{fit.test}; two one-sided tests on b", float(binding), max(p_low, p_high), fit.slope,
                      fit.ci, effect, n,
                      {**fit.extra, "p_lower": p_low, "p_upper": p_high, "ci_tost_low": fit.slope - half,
                       "ci_tost_high": fit.slope + half},
                      fit.notes, level)


def _p(p: float) -> str:
    return "< 1e-16" if p < 1e-16 else f"= {p:.3g}"


def _fitted(pred: PowerLaw, fit, data: pd.DataFrame) -> tuple[np.ndarray, int]:
    """The law's log value at each point, and its number of parameters. The pure form is checked against
    the least-squares line (the mixed model's line differs only by how it weighs seeds)."""
    x = data.x.to_numpy(float)
    if pred.form == "saturating":
        return saturating((fit.extra["asymptote"], np.log(fit.extra["scale"]), fit.slope), x), 3
    slope, intercept = np.polyfit(x, data.value.to_numpy(float), 1)
    return intercept + slope * x, 2
