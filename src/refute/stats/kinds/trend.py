"""trend: a measured value rises or falls with x (a swept parameter, or per-metric x within runs).

- spearman: the effect is Spearman's ρ between x and the value over all points (scipy); its 95% CI is
  Fisher's z with the Bonett–Wright variance (1 + ρ²/2)/(n − 3).
- ols:      the effect is the OLS slope (statsmodels) in value per unit x (per decade of x with
  `log_x`). When a seed is measured at several x its points are not independent, so the standard
  error is cluster-robust by seed (t with seeds − 1 degrees of freedom).
- mixed:    the same slope from a linear mixed model with a random intercept per seed (statsmodels
  MixedLM, REML): the right model when every seed appears at several x (sweeps over shared seeds,
  per-mode metrics within runs). The slope is tested with t on the within-seed degrees of
  freedom (points − seeds − 1).
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import stats

from refute.registry import PREDICTIONS
from refute.stats.kinds._axis import FromMetrics, FromParam, axis_check, axis_units, levels, seeds_repeat
from refute.stats.kinds._base import Directional, TestResult, Unit, one_sided_p, undefined


class Trend(Directional):
    kind: Literal["trend"] = Field(description="the value rises (greater) or falls (less) with x")
    metric: str | None = Field(None, description="the metric measured at each condition's x (with x.param); "
                                                 "omit with x.metrics")
    x: FromParam | FromMetrics = Field(description="{param: dotted.field} across conditions, or "
                                                   "{metrics: {metric: x, ...}} within each run")
    conditions: list[str] | None = Field(None, description="conditions to include (default: all)")
    log_x: bool = Field(False, description="regress on log10(x): the slope is per decade of x")
    test: Literal["spearman", "ols", "mixed"] = Field(
        "spearman", description="spearman (rank correlation ρ) | ols (slope) | mixed (slope, random intercept per seed)"
    )

    def conditions_used(self, available=None) -> list[str]:
        return list(self.conditions) if self.conditions is not None else list(available or [])

    def units(self, conditions) -> list[Unit]:
        return axis_units(self.x, self.metric, self.reduce, self.conditions_used(list(conditions)), conditions)

    def check(self, conditions) -> list[tuple[str, str]]:
        return axis_check(self.x, self.metric, self.conditions_used(list(conditions)), conditions, positive=self.log_x)


@PREDICTIONS.register("trend", Trend)
def evaluate(pred: Trend, data: pd.DataFrame, level: float = 0.95) -> TestResult:
    """the value rises or falls with x (Spearman ρ, OLS slope or mixed-model slope)"""
    data = data[data.role == "y"].copy()
    if pred.log_x:
        data["x"] = np.log10(data.x)
    unit = "per decade of x" if pred.log_x else "per unit x"
    n = {"points": len(data), "seeds": int(data.seed.nunique()), "levels": levels(data)}
    notes = []
    if len(data) < 3 or n["levels"] < 2:
        return undefined(pred.test, "trend", n, "a trend needs at least 3 points at 2 or more distinct x")
    repeated = seeds_repeat(data)
    if pred.test == "spearman":
        if repeated:
            notes.append("seeds are measured at several x, so points are not independent; "
                         "`test: mixed` models the seed")
        return _spearman(pred, data, n, level, notes)
    if pred.test == "mixed" and not repeated:
        notes.append("no seed is measured at more than one x, so there is no seed effect to model: fitted by OLS")
        return _ols(pred, data, n, level, unit, notes, cluster=False)
    if pred.test == "mixed":
        return _mixed(pred, data, n, level, unit, notes)
    return _ols(pred, data, n, level, unit, notes, cluster=repeated)


def _spearman(pred: Trend, data: pd.DataFrame, n: dict, level: float, notes: list[str]) -> TestResult:
    x, y = data.x.to_numpy(float), data.value.to_numpy(float)
    if np.ptp(y) == 0:
        return undefined("Spearman ρ", "Spearman ρ between x and the value", n, "every value is the same")
    res = stats.spearmanr(x, y, alternative=pred.direction)
    rho = float(res.statistic)
    return TestResult("Spearman rank correlation", rho, float(res.pvalue), rho, rank_ci(rho, len(x), level),
                      "Spearman ρ between x and the value", n, notes=notes, ci_level=level)


def rank_ci(rho: float, n: int, level: float) -> tuple[float, float]:
    """Fisher-z CI of a Spearman ρ with the Bonett–Wright (2000) variance."""
    if n <= 3 or not np.isfinite(rho):
        return (float("nan"), float("nan"))
    z = np.arctanh(np.clip(rho, -1 + 1e-12, 1 - 1e-12))
    half = stats.norm.ppf(0.5 + level / 2) * np.sqrt((1 + rho**2 / 2) / (n - 3))
    return (float(np.tanh(z - half)), float(np.tanh(z + half)))


def _ols(pred: Trend, data: pd.DataFrame, n: dict, level: float, unit: str, notes: list[str],
         cluster: bool) -> TestResult:
    import statsmodels.api as sm

    X = sm.add_constant(data.x.to_numpy(float))
    y = data.value.to_numpy(float)
    model = sm.OLS(y, X)
    if cluster:
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": data.seed.to_numpy()}, use_t=True)
        test = "OLS slope, cluster-robust by seed"
        df = n["seeds"] - 1
    else:
        fit = model.fit()
        test = "OLS slope"
        df = fit.df_resid
    if df < 1 or not np.isfinite(fit.bse[1]) or fit.bse[1] == 0:
        return undefined(test, f"slope of the value {unit}", n, "too few degrees of freedom for the slope")
    slope, t = float(fit.params[1]), float(fit.tvalues[1])
    lo, hi = fit.conf_int(alpha=1 - level)[1]
    p = one_sided_p(t, stats.t(df), pred.direction)
    return TestResult(test, t, p, slope, (float(lo), float(hi)), f"slope of the value {unit}", n,
                      {"se": float(fit.bse[1]), "df": float(df), "r2": float(fit.rsquared)}, notes, level)


def _mixed(pred: Trend, data: pd.DataFrame, n: dict, level: float, unit: str, notes: list[str]) -> TestResult:
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    test = "mixed model slope (random intercept per seed)"
    df = n["points"] - n["seeds"] - 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = smf.mixedlm("value ~ x", data, groups=data["seed"]).fit(reml=True)
        except (np.linalg.LinAlgError, ValueError) as err:
            return undefined(test, f"slope of the value {unit}", n, f"the mixed model could not be fitted: {err}")
    for w in caught:
        if issubclass(w.category, ConvergenceWarning) or "singular" in str(w.message).lower():
            notes.append(f"mixed model: {w.message}")
    slope, se = float(fit.params["x"]), float(fit.bse["x"])
    if df < 1 or not np.isfinite(se) or se == 0:
        return undefined(test, f"slope of the value {unit}", n, "too few degrees of freedom for the slope")
    dist = stats.t(df)
    t = slope / se
    half = dist.ppf(0.5 + level / 2) * se
    seed_var = float(fit.cov_re.iloc[0, 0]) if fit.cov_re.size else float("nan")
    return TestResult(test, t, one_sided_p(t, dist, pred.direction), slope, (float(slope - half), float(slope + half)),
                      f"slope of the value {unit}", n,
                      {"se": se, "df": float(df), "seed_variance": seed_var, "residual_variance": float(fit.scale)},
                      list(dict.fromkeys(notes)), level)
