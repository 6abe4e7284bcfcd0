"""Ratio effects ("random labels take 3× the steps"): compare and equivalence with `scale: ratio`.

A ratio of two conditions is tested on the log scale, where it is a difference: each value is
replaced by its natural log, the kind's usual test runs unchanged, and the effect and its CI are
back-transformed with exp (a difference of mean logs becomes a ratio of geometric means; a
Hodges–Lehmann shift of logs, a median ratio). The p-value is the log-scale test's. The outcome is
judged on the log scale, and stated in ratios.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from refute.components.predictions import TestResult, undefined
from refute.components.predictions.outcome import CONTRADICTED, HOLDS, Outcome, judge, judge_interval


def log_values(data: pd.DataFrame) -> pd.DataFrame | str:
    """The table with every value replaced by its natural log; a string says why it cannot be (a value ≤ 0).
    ±inf (a failed run counted as least favourable) stays at the same end of the scale."""
    v = data.value.to_numpy(float)
    bad = np.isfinite(v) & (v <= 0)
    if bad.any():
        return (f"{int(bad.sum())} value(s) ≤ 0: a ratio needs positive values (reduce to a positive quantity, "
                "e.g. a step count or a loss)")
    with np.errstate(divide="ignore", invalid="ignore"):
        logged = np.where(v == -np.inf, -np.inf, np.log(np.where(v == -np.inf, 1.0, v)))
    return data.assign(value=logged)


def on_log_scale(res: TestResult, a: str, b: str) -> TestResult:
    """Back-transform a log-scale test of a − b into the ratio a / b (estimate and CI); the log-scale
    numbers stay in `extra`."""
    est, (lo, hi) = res.estimate, res.ci
    res.extra = {**res.extra, "log_ratio": est, "log_ci_low": lo, "log_ci_high": hi}
    for k in ("ci_tost_low", "ci_tost_high"):
        if k in res.extra:
            res.extra[k.replace("ci_tost", "ratio_ci_tost")] = float(np.exp(res.extra[k]))
    res.estimate, res.ci = float(np.exp(est)), (float(np.exp(lo)), float(np.exp(hi)))
    res.effect = f"ratio {a} / {b}: exp of the {res.effect} of ln values"
    res.test = f"{res.test}, on ln values"
    return res


def cannot(test: str, a: str, b: str, data: pd.DataFrame, why: str) -> TestResult:
    n = {c: int(((data.condition == c) & (data.role == "y")).sum()) for c in (a, b)}
    return undefined(test, f"ratio {a} / {b}", n, why)


def _ln(v: float) -> float:
    return math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan)


def _f(x: float) -> str:
    return f"{x:.4g}"


def judge_ratio(direction: str, alpha: float, min_ratio: float, p: float, estimate: float,
                ci: tuple[float, float], n_min: int, level: float) -> Outcome:
    """A directional prediction about a ratio, judged on the log scale (δ = ln min_ratio) and stated in ratios."""
    out = judge(direction, alpha, math.log(min_ratio), p, _ln(estimate), (_ln(ci[0]), _ln(ci[1])), n_min, level)
    lo, hi = ci
    span = f"{100 * level:.4g}% CI of the ratio [{_f(lo)}, {_f(hi)}]"
    if direction == "two-sided":
        claim = f"beyond ×{min_ratio:g} either way" if min_ratio > 1 else "other than 1"
    elif min_ratio > 1:
        claim = f"of at least {min_ratio:g}" if direction == "greater" else \
            f"of at most 1/{min_ratio:g} = {1 / min_ratio:.4g}"
    else:
        claim = "above 1" if direction == "greater" else "below 1"
    if out.status == HOLDS:
        return Outcome(HOLDS, f"p = {_f(p)} < α = {alpha:g} and the ratio {_f(estimate)} is {claim.removeprefix('of ')} "
                              "(tested on the log scale)", f"p ≥ α = {alpha:g}, or a ratio short of the claim")
    if out.status == CONTRADICTED:
        return Outcome(CONTRADICTED, f"the whole {span} rules out a ratio {claim}", f"a CI reaching a ratio {claim}")
    if n_min < 2 or math.isnan(p) or math.isnan(estimate):
        return out
    return Outcome(out.status, f"p = {_f(p)} (α = {alpha:g}) and the {span}: compatible both with a ratio {claim} "
                               "and with its failure", out.would_change)


def judge_ratio_interval(margin: float, alpha: float, p: float, estimate: float, ci: tuple[float, float],
                         n_min: int, level: float) -> Outcome:
    """a ≈ b within a factor 1 + margin, judged on the log scale and stated in ratios."""
    bound = math.log1p(margin)
    out = judge_interval(-bound, bound, alpha, p, _ln(estimate), (_ln(ci[0]), _ln(ci[1])), n_min, level)
    span = f"[1/{1 + margin:g}, {1 + margin:g}] = [{_f(1 / (1 + margin))}, {_f(1 + margin)}]"
    lo, hi = ci
    if out.status == HOLDS:
        return Outcome(HOLDS, f"both one-sided tests reject a ratio outside {span}: p = {_f(p)} < α = {alpha:g} "
                              f"(ratio {_f(estimate)}; tested on the log scale)", f"p ≥ α = {alpha:g}")
    if out.status == CONTRADICTED:
        return Outcome(CONTRADICTED, f"the whole {100 * level:.4g}% CI of the ratio [{_f(lo)}, {_f(hi)}] lies outside "
                                     f"{span}", f"a CI reaching back into {span}")
    if n_min < 2 or math.isnan(p) or math.isnan(estimate):
        return out
    return Outcome(out.status, f"p = {_f(p)} ≥ α = {alpha:g} and the {100 * level:.4g}% CI of the ratio "
                               f"[{_f(lo)}, {_f(hi)}] overlaps {span} without lying inside it", out.would_change)
