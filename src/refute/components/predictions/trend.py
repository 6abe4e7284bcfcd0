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
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from refute.components.predictions import PREDICTIONS
from refute.components.predictions import power
from refute.components.predictions.optimum import Optimum
from refute.components.predictions._axis import AlongAxis, FromMetrics, FromParam, levels, seeds_repeat
from refute.components.predictions import Directional, TestResult, one_sided_p, undefined


class Trend(AlongAxis, Directional):
    kind: Literal["trend"] = Field(description="the value rises (greater) or falls (less) with x")
    metric: str | Optimum | None = Field(
        None, description="the metric measured at each condition's x (with x.param), or an optimum across a "
        "sweep (see refute.components.predictions.optimum); omit with x.metrics")
    x: FromParam | FromMetrics = Field(description="{param: dotted.field} across conditions, or "
                                                   "{metrics: {metric: x, ...}} within each run")
    conditions: list[str] | None = Field(None, description="conditions to include (default: all)")
    log_x: bool = Field(False, description="regress on log10(x): the slope is per decade of x")
    test: Literal["spearman", "ols", "mixed"] = Field(
        "spearman", description="spearman (rank correlation ρ) | ols (slope) | mixed (slope, random intercept per seed)"
    )

    def power(self, result: TestResult, data: pd.DataFrame, alpha: float) -> dict | None:
        return slope_power(self, result, alpha)


def slope_power(pred, result: TestResult, alpha: float) -> dict | None:
    """Plan seeds for a trend: ρ by Fisher z, slopes as a one-sample t-test over seeds."""
    effect, basis = pred.planned_effect(result)
    seeds = result.n.get("seeds", 0)
    if not seeds:
        return None
    per_seed = result.n.get("points", 0) / seeds
    if pred.test == "spearman":
        return power.plan(effect, basis, seeds, alpha,
                          f"Fisher z (Bonett–Wright), {per_seed:.3g} points per seed",
                          lambda k: power.fisher_power(effect, k * per_seed, alpha, pred.direction, True),
                          unit="seeds (each at every x)")
    sd = result.extra.get("se", float("nan")) * np.sqrt(seeds)
    return power.plan(effect, basis, seeds, alpha, f"slope t-test over seeds, standard error × √seeds = {sd:.4g}",
                      lambda k: power.t_power(effect, sd, k, alpha, pred.direction, 1, False),
                      unit="seeds (each at every x)")


@PREDICTIONS.register("trend", Trend)
def evaluate(pred: Trend, data: pd.DataFrame, level: float = 0.95) -> TestResult:
    """the value rises or falls with x (Spearman ρ, OLS slope or mixed-model slope)"""
    from scipy import stats

    data = data[data.role == "y"].copy()
    if pred.log_x:
        data["x"] = np.log10(data.x)
    effect = f"slope of the value per {'decade of x' if pred.log_x else 'unit x'}"
    n = {"points": len(data), "seeds": int(data.seed.nunique()), "levels": levels(data)}
    if len(data) < 3 or n["levels"] < 2:
        return undefined(pred.test, "trend", n, "a trend needs at least 3 points at 2 or more distinct x")
    if pred.test == "spearman":
        notes = ["seeds are measured at several x, so points are not independent; `test: mixed` models the seed"] \
            if seeds_repeat(data) else []
        return _spearman(pred, data, n, level, notes)
    fit = fit_slope(data, pred.test, level, n)
    if isinstance(fit, str):
        return undefined(pred.test, effect, n, fit)
    t = fit.slope / fit.se
    return TestResult(fit.test, t, one_sided_p(t, stats.t(fit.df), pred.direction), fit.slope, fit.ci, effect, n,
                      fit.extra, fit.notes, level)


def _spearman(pred: Trend, data: pd.DataFrame, n: dict, level: float, notes: list[str]) -> TestResult:
    from scipy import stats

    x, y = data.x.to_numpy(float), data.value.to_numpy(float)
    if np.ptp(y) == 0:
        return undefined("Spearman ρ", "Spearman ρ between x and the value", n, "every value is the same")
    res = stats.spearmanr(x, y, alternative=pred.direction)
    rho = float(res.statistic)
    return TestResult("Spearman rank correlation", rho, float(res.pvalue), rho, rank_ci(rho, len(x), level),
                      "Spearman ρ between x and the value", n, notes=notes, ci_level=level)


def rank_ci(rho: float, n: int, level: float) -> tuple[float, float]:
    """Fisher-z CI of a Spearman ρ with the Bonett–Wright (2000) variance."""
    from scipy import stats

    if n <= 3 or not np.isfinite(rho):
        return (float("nan"), float("nan"))
    z = np.arctanh(np.clip(rho, -1 + 1e-12, 1 - 1e-12))
    half = stats.norm.ppf(0.5 + level / 2) * np.sqrt((1 + rho**2 / 2) / (n - 3))
    return (float(np.tanh(z - half)), float(np.tanh(z + half)))


@dataclass
class SlopeFit:
    test: str
    slope: float
    se: float
    df: float
    ci: tuple[float, float]
    extra: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def fit_slope(data: pd.DataFrame, method: str, level: float, n: dict) -> SlopeFit | str:
    """The slope of value on x: OLS (cluster-robust by seed when seeds repeat across x) or a mixed
    model with a random intercept per seed; a string says why it could not be fitted."""
    repeated = seeds_repeat(data)
    notes = []
    if method == "mixed" and not repeated:
        notes.append("no seed is measured at more than one x, so there is no seed effect to model: fitted by OLS")
        method = "ols"
    fit = _mixed(data, level, n) if method == "mixed" else _ols(data, level, n, cluster=repeated)
    if isinstance(fit, SlopeFit):
        fit.notes = notes + fit.notes
    return fit


def _ols(data: pd.DataFrame, level: float, n: dict, cluster: bool) -> SlopeFit | str:
    import statsmodels.api as sm

    model = sm.OLS(data.value.to_numpy(float), sm.add_constant(data.x.to_numpy(float)))
    if cluster:
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": data.seed.to_numpy()}, use_t=True)
        test, df = "OLS slope, cluster-robust by seed", n["seeds"] - 1
    else:
        fit = model.fit()
        test, df = "OLS slope", fit.df_resid
    se = float(fit.bse[1])
    if df < 1 or not np.isfinite(se) or se == 0:
        return "too few degrees of freedom, or no scatter, for the slope's standard error"
    lo, hi = fit.conf_int(alpha=1 - level)[1]
    return SlopeFit(test, float(fit.params[1]), se, float(df), (float(lo), float(hi)),
                    {"se": se, "df": float(df), "r2": float(fit.rsquared)})


def _mixed(data: pd.DataFrame, level: float, n: dict) -> SlopeFit | str:
    from scipy import stats

    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    # Within-seed degrees of freedom: the slope is estimated from variation inside each seed.
    df = n["points"] - n["seeds"] - 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = smf.mixedlm("value ~ x", data, groups=data["seed"]).fit(reml=True)
        except (np.linalg.LinAlgError, ValueError) as err:
            return f"the mixed model could not be fitted: {err}"
    notes = list(dict.fromkeys(f"mixed model: {w.message}" for w in caught
                               if issubclass(w.category, ConvergenceWarning) or "singular" in str(w.message).lower()))
    slope, se = float(fit.params["x"]), float(fit.bse["x"])
    if df < 1 or not np.isfinite(se) or se == 0:
        return "too few degrees of freedom, or no scatter, for the slope's standard error"
    half = stats.t(df).ppf(0.5 + level / 2) * se
    seed_var = float(fit.cov_re.iloc[0, 0]) if fit.cov_re.size else float("nan")
    return SlopeFit("mixed model slope (random intercept per seed)", slope, se, float(df),
                    (slope - half, slope + half),
                    {"se": se, "df": float(df), "seed_variance": seed_var, "residual_variance": float(fit.scale)}, notes)
