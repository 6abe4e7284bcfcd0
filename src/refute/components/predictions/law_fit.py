"""Fitting a scaling law beyond the pure power law, and testing whether a law fits at all.

- `fit_saturating`: value = E + A·x^b (E ≥ 0, the asymptote scaling-law work fits; E = 0 is the pure law),
  by nonlinear least squares on log(value), like the pure form's log–log line: the errors are taken to be
  multiplicative in both. Starting values come from a grid over E (for each E, log(value − E) on log x is
  a line); scipy's least_squares refines them. The exponent's standard error is the usual σ²(JᵀJ)⁻¹ with
  points − 3 degrees of freedom, or, when a seed is measured at several x, cluster-robust by seed (a
  sandwich with the small-sample factor statsmodels uses) with seeds − 1 degrees of freedom.
- `lack_of_fit`: the classical lack-of-fit F test. With several runs at each x, the scatter of runs
  around their x's mean (pure error) says how far a correct law's fit may miss; the fit's residuals
  beyond that (lack of fit) are compared with it by F on (levels − parameters, points − levels) degrees
  of freedom. A small p says the law is misspecified: data from another law get flagged rather than an
  exponent. When seeds repeat across x, their offsets sit in the pure error and cancel in the level
  means, which makes the test conservative.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from refute.components.predictions.trend import SlopeFit
from refute.components.predictions._axis import seeds_repeat


def saturating(theta: np.ndarray, logx: np.ndarray) -> np.ndarray:
    """log(E + A·x^b) for theta = (E, log A, b)."""
    e, log_a, b = theta
    return np.log(e + np.exp(log_a + b * logx))


def _start(logx: np.ndarray, logy: np.ndarray) -> np.ndarray:
    y = np.exp(logy)
    best, best_rss = None, np.inf
    for e in np.linspace(0.0, 0.99 * y.min(), 40):
        b, log_a = np.polyfit(logx, np.log(y - e), 1)
        rss = float(np.sum((logy - saturating((e, log_a, b), logx)) ** 2))
        if rss < best_rss:
            best, best_rss = np.array([e, log_a, b]), rss
    return best


def fit_saturating(data: pd.DataFrame, level: float, n: dict) -> SlopeFit | str:
    """The exponent b of value = E + A·x^b; `data` has x and value on the log scale (as the pure form's
    fit receives them). A string says why it could not be fitted."""
    from scipy import optimize, stats

    logx, logy = data.x.to_numpy(float), data.value.to_numpy(float)
    if n["levels"] < 3:
        return "the saturating form E + A·x^b has 3 parameters: it needs at least 3 distinct x"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = optimize.least_squares(lambda t: logy - saturating(t, logx), _start(logx, logy),
                                     bounds=([0.0, -np.inf, -np.inf], [np.inf, np.inf, np.inf]), method="trf")
    jac = -res.jac  # of the model, not of the residuals
    resid = res.fun
    points, k = len(logy), 3
    bread = np.linalg.pinv(jac.T @ jac)
    notes = []
    if seeds_repeat(data):
        seeds = data.seed.to_numpy()
        groups = np.unique(seeds)
        meat = sum(np.outer(s, s) for s in (jac[seeds == g].T @ resid[seeds == g] for g in groups))
        factor = len(groups) / (len(groups) - 1) * (points - 1) / (points - k) if len(groups) > 1 else np.nan
        cov, df, test = factor * bread @ meat @ bread, len(groups) - 1, "nonlinear least squares, cluster-robust by seed"
    else:
        cov, df, test = float(resid @ resid) / (points - k) * bread, points - k, "nonlinear least squares"
    se = float(np.sqrt(cov[2, 2])) if np.isfinite(cov[2, 2]) and cov[2, 2] > 0 else float("nan")
    if df < 1 or not np.isfinite(se) or se == 0:
        return "too few degrees of freedom, or no scatter, for the exponent's standard error"
    e, log_a, b = (float(v) for v in res.x)
    if e <= 0:
        notes.append("the asymptote E is at its bound 0: the data show no saturation (the pure form fits as well)")
    half = float(stats.t(df).ppf(0.5 + level / 2)) * se
    return SlopeFit(f"{test}, E + A·x^b", b, se, float(df), (b - half, b + half),
                    {"se": se, "df": float(df), "asymptote": e, "scale": float(np.exp(log_a))}, notes)


def lack_of_fit(data: pd.DataFrame, fitted: np.ndarray, parameters: int) -> dict[str, float] | str:
    """The lack-of-fit F test of `fitted` (the law's value at each row of `data`, same scale as
    data.value); a string says why it cannot be tested."""
    from scipy import stats

    y = data.value.to_numpy(float)
    level_mean = data.groupby("x").value.transform("mean").to_numpy(float)
    levels = int(data.x.nunique())
    df_pe, df_lof = len(y) - levels, levels - parameters
    if df_lof < 1:
        return f"lack of fit not tested: it needs more distinct x ({levels}) than the law has parameters ({parameters})"
    if df_pe < 1:
        return "lack of fit not tested: it needs several runs at some x (pure error)"
    pure = float(np.sum((y - level_mean) ** 2))
    lof = max(0.0, float(np.sum((y - fitted) ** 2)) - pure)
    if pure <= 0:
        return "lack of fit not tested: runs at the same x do not differ (no pure error)"
    f = (lof / df_lof) / (pure / df_pe)
    return {"lack_of_fit_F": f, "lack_of_fit_p": float(stats.f.sf(f, df_lof, df_pe)),
            "lack_of_fit_df": float(df_lof)}
