"""Power analysis: how many seeds a prediction needs, from the variance the runs showed.

Each function plans one test family at an effect δ: the power the test had at the n that was run,
and the n that gives 80% power. "Power" is the probability that the test rejects "no effect" (for
interval claims: rejects "outside the interval") when the true effect is δ, at the α the
prediction is judged at (α/k under a correction across k predictions: the strictest Holm step).

- t-tests: statsmodels' TTestIndPower (two groups, n per group) and TTestPower (one group, or
  per-seed differences);
- rank tests (Mann–Whitney, Wilcoxon): as their t-test, with n divided by the asymptotic relative
  efficiency 3/π (the standard planning rule under normal data);
- slopes (OLS, mixed model, log–log exponent): the slope's standard error shrinks as 1/√seeds, so
  the slope test is planned as a one-sample t-test over seeds;
- rank and product-moment correlations: Fisher's z (Bonett–Wright variance for Spearman);
- TOST (equivalence, exponent ranges): the normal-theory power 2·T(m/se − t₁₋α) − 1 for a true
  effect at the interval's centre;
- proportions: the exact binomial test's power, summed over outcomes;
- exact tests of runs with no spread (refute.components.predictions.exact): if every new run gives the
  same value too, the test rejects exactly when its smallest possible p (1/2ⁿ for a sign test,
  1/C(2n, n) for two groups) falls below α, so the plan is the fewest runs for which it does.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np


TARGET = 0.8
MAX_SEEDS = 100_000
ARE_RANK = 3 / math.pi  # efficiency of rank tests relative to t under normality


def pooled_sd(a: np.ndarray, b: np.ndarray) -> float:
    """The pooled standard deviation of two groups (nan when neither has two values)."""
    dof = len(a) + len(b) - 2
    if dof <= 0:
        return float("nan")
    ss = sum(np.var(g, ddof=1) * (len(g) - 1) for g in (a, b) if len(g) > 1)
    return float(np.sqrt(ss / dof))


def plan(effect: float, basis: str, n: int, alpha: float, method: str, power_at: Callable[[float], float],
         min_n: int = 2, unit: str = "seeds per condition") -> dict | None:
    """The power at n, and the smallest n with power ≥ 80% (None when even MAX_SEEDS is not enough)."""
    if not (math.isfinite(effect) and effect > 0) or n < 1:
        return None
    now = float(power_at(n))
    if not math.isfinite(now):
        return None
    need = _smallest(power_at, min_n)
    return {"effect": effect, "basis": basis, "n": int(n), "power_at_n": round(now, 4),
            "seeds_for_80": need, "alpha": alpha, "method": method, "unit": unit}


def _smallest(power_at: Callable[[float], float], lo: int) -> int | None:
    # Power rises with n for every family here: double, then bisect.
    hi = max(lo, 2)
    while power_at(hi) < TARGET:
        if hi >= MAX_SEEDS:
            return None
        hi = min(MAX_SEEDS, hi * 2)
    while lo < hi:
        mid = (lo + hi) // 2
        if power_at(mid) >= TARGET:
            hi = mid
        else:
            lo = mid + 1
    return int(hi)


def exact_plan(effect: float, n: int, alpha: float, floor_at: Callable[[int], float], two_sided: bool, test: str,
               unit: str) -> dict | None:
    """Seeds for an exact test of runs with no spread: the fewest whose smallest p falls below α."""
    sides = 2 if two_sided else 1
    return plan(effect, "the runs' common value, if every new run gives it too", n, alpha,
                f"exact {test} test on runs with no spread: the fewest runs whose smallest p"
                f"{' (two-sided: doubled)' if two_sided else ''} falls below α",
                lambda k: float(sides * floor_at(int(k)) < alpha), unit=unit)


def fewest_exact_runs(alpha: float) -> int:
    """The fewest runs with which a sign test can reject at `alpha` (1/2ⁿ < α): with fewer, runs that all
    give one value (a metric at its ceiling) can decide nothing, however far from the claim's bound."""
    return max(1, math.floor(math.log2(1 / alpha)) + 1)


def _alternative(direction: str) -> str:
    # The effect is planned in the predicted direction, so one-sided claims use "larger" on |δ|.
    return "two-sided" if direction == "two-sided" else "larger"


def t_power(effect: float, sd: float, n: float, alpha: float, direction: str, groups: int, rank: bool) -> float:
    from statsmodels.stats.power import TTestIndPower, TTestPower

    if not (sd > 0) or n < 2:
        return float("nan") if not sd > 0 else 0.0
    n_eff = n * ARE_RANK if rank else n
    if n_eff < 2:
        return 0.0
    alt = _alternative(direction)
    if groups == 2:
        return float(TTestIndPower().power(effect_size=effect / sd, nobs1=n_eff, alpha=alpha, ratio=1.0, alternative=alt))
    return float(TTestPower().power(effect_size=effect / sd, nobs=n_eff, alpha=alpha, alternative=alt))


def fisher_power(r: float, n_points: float, alpha: float, direction: str, spearman: bool) -> float:
    """Power to detect a correlation r with n_points pairs (Fisher z)."""
    from scipy import stats

    if n_points <= 3 or not 0 < abs(r) < 1:
        return 0.0 if n_points <= 3 else float("nan")
    var = (1 + r**2 / 2) if spearman else 1.0
    shift = abs(math.atanh(r)) / math.sqrt(var / (n_points - 3))
    crit = stats.norm.ppf(1 - alpha / 2) if direction == "two-sided" else stats.norm.ppf(1 - alpha)
    return float(stats.norm.sf(crit - shift))


def tost_power(margin: float, se_at: Callable[[float], float], df_at: Callable[[float], float], n: float,
               alpha: float, tests: int = 1) -> float:
    """Power of a TOST with half-width `margin` when the true effect is the interval's centre;
    `tests` intersection–union conditions must all pass."""
    from scipy import stats

    se, df = se_at(n), df_at(n)
    if df < 1 or not se > 0:
        return 0.0
    one = max(0.0, 2 * stats.t.cdf(margin / se - stats.t.ppf(1 - alpha, df), df) - 1)
    return one**tests


def binomial_power(p0: float, p1: float, n: int, alpha: float, direction: str) -> float:
    """Exact power of the binomial test of H0 p = p0 when the true proportion is p1."""
    from scipy import stats

    n = int(n)
    k = np.arange(n + 1)
    if direction == "greater":
        reject = stats.binom.sf(k - 1, n, p0) <= alpha
    elif direction == "less":
        reject = stats.binom.cdf(k, n, p0) <= alpha
    else:
        reject = np.array([stats.binomtest(int(i), n, p0).pvalue <= alpha for i in k]) if n <= 400 else \
            np.minimum(1, 2 * np.minimum(stats.binom.sf(k - 1, n, p0), stats.binom.cdf(k, n, p0))) <= alpha
    return float(stats.binom.pmf(k, n, p1)[reject].sum())
