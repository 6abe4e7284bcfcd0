"""Equivalence of two conditions within a margin relative to b: 1 − m < μa/μb < 1 + m.

The bounds of a ratio of means are linear in the means (for μb > 0): μa/μb > θ ⇔ μa − θ μb > 0. So
each one-sided test is a t-test of a − θ b (Hauschke, Kieser & Hothorn 1999): for independent
groups with Welch's standard error √(s²a/na + θ² s²b/nb) and Satterthwaite degrees of freedom; paired
by seed, a one-sample t-test of the per-seed a − θ b. The CI of the ratio is Fieller's: every θ
whose test of a − θ b does not reject. The effect reported is μa/μb − 1 (a relative difference),
so the interval of the claim is ±margin.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from refute.components.predictions import TestResult, exact, paired, undefined, values


class _Moments:
    """Means and the covariance of (mean a, mean b), and the degrees of freedom at a given θ."""

    def __init__(self, a: np.ndarray, b: np.ndarray, is_paired: bool):
        self.ma, self.mb = float(np.mean(a)), float(np.mean(b))
        self.na, self.nb, self.is_paired = len(a), len(b), is_paired
        if is_paired:
            c = np.cov(a, b, ddof=1)
            self.vaa, self.vab, self.vbb = c[0, 0] / len(a), c[0, 1] / len(a), c[1, 1] / len(a)
        else:
            self.vaa, self.vab, self.vbb = np.var(a, ddof=1) / len(a), 0.0, np.var(b, ddof=1) / len(b)

    def se(self, theta: float) -> float:
        return math.sqrt(max(self.vaa - 2 * theta * self.vab + theta**2 * self.vbb, 0.0))

    def df(self, theta: float) -> float:
        if self.is_paired:
            return self.na - 1
        va, vb = self.vaa, theta**2 * self.vbb
        return (va + vb) ** 2 / (va**2 / (self.na - 1) + vb**2 / (self.nb - 1))

    def fieller(self, level: float) -> tuple[float, float]:
        """Every θ with |ma − θ mb| ≤ t · se(θ), at the df of the estimate."""
        from scipy import stats

        t = stats.t.ppf(0.5 + level / 2, self.df(self.ma / self.mb))
        qa = self.mb**2 - t**2 * self.vbb
        qb = -2 * self.ma * self.mb + 2 * t**2 * self.vab
        qc = self.ma**2 - t**2 * self.vaa
        disc = qb**2 - 4 * qa * qc
        if qa <= 0 or disc < 0:  # b's mean is not credibly away from 0: the ratio is unbounded
            return (-math.inf, math.inf)
        root = math.sqrt(disc)
        return ((-qb - root) / (2 * qa), (-qb + root) / (2 * qa))


def tost(data: pd.DataFrame, a_name: str, b_name: str, margin: float, is_paired: bool, alpha: float,
         level: float) -> TestResult:
    from scipy import stats

    label = f"{a_name} / {b_name} − 1"
    if is_paired:
        a, b, seeds = paired(data, a_name, b_name)
        n, test = {"pairs": len(seeds)}, "TOST on a − θ·b, paired t (relative margin)"
    else:
        a, b = values(data, a_name), values(data, b_name)
        n, test = {a_name: len(a), b_name: len(b)}, "TOST on a − θ·b, Welch t (relative margin)"
    effect = f"relative difference of means ({label})"
    if min(len(a), len(b)) < 2:
        return undefined(test, effect, n, "fewer than 2 runs in a group")
    mo = _Moments(a, b, is_paired)
    if not (mo.mb > 0 and mo.ma > 0):
        return undefined(test, effect, n, f"a relative margin needs positive means (mean {a_name} = {mo.ma:.4g}, "
                                          f"mean {b_name} = {mo.mb:.4g}); compare differences instead")
    est = mo.ma / mo.mb - 1
    lo_theta, hi_theta = 1 - margin, 1 + margin
    if mo.se(lo_theta) == 0 or mo.se(hi_theta) == 0:
        # No spread (runs at a ceiling): a t statistic would be infinite; each one-sided test is exact instead.
        floor = exact.sign_floor(len(a)) if is_paired else exact.permutation_floor(len(a), len(b))
        return exact.equivalent(est, margin, floor, level, effect, n, test)
    t_lo = (mo.ma - lo_theta * mo.mb) / mo.se(lo_theta)
    t_hi = (mo.ma - hi_theta * mo.mb) / mo.se(hi_theta)
    p_lo, p_hi = float(stats.t.sf(t_lo, mo.df(lo_theta))), float(stats.t.cdf(t_hi, mo.df(hi_theta)))
    ci = tuple(float(c - 1) for c in mo.fieller(level))
    ci90 = tuple(float(c - 1) for c in mo.fieller(1 - 2 * alpha))
    # For planning seeds: the spread of a relative to b's mean (per seed, or pooled over both groups).
    sd = float(np.std(a - b, ddof=1) if is_paired else np.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)) / mo.mb
    notes = [] if math.isfinite(ci[0]) else [f"mean {b_name} is not credibly away from 0: the CI of the ratio "
                                             "is unbounded"]
    return TestResult(test, float(t_lo if p_lo >= p_hi else t_hi), max(p_lo, p_hi), float(est), ci, effect, n,
                      {"margin": margin, "ratio": mo.ma / mo.mb, "p_lower": p_lo, "p_upper": p_hi,
                       "ci_tost_low": ci90[0], "ci_tost_high": ci90[1], "sd": sd}, notes, level)
