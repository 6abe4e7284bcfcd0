"""compare: one condition against another, independent groups or paired by seed.

The effect is condition a minus condition b:
- welch:       difference of means, Welch's t-test (unequal variances);
- mannwhitney: Hodges–Lehmann shift (median of all pairwise differences), Mann–Whitney U;
- paired_t:    mean of the per-seed differences, paired t-test (same seeds in both conditions);
- wilcoxon:    Hodges–Lehmann pseudo-median of the per-seed differences, Wilcoxon signed-rank test.
Paired tests use the seeds measured in both conditions; a seed shares its initialization and data
order across conditions, so pairing removes the between-seed variance from the comparison.

With `scale: ratio` the effect is the ratio a / b instead ("3× the steps"): the same test on ln
values, its estimate and CI back-transformed (refute.components.predictions._ratio); the smallest
effect of interest is then `min_ratio` (a / b ≥ min_ratio, or ≤ 1/min_ratio for direction less).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from refute.components.predictions import PREDICTIONS
from refute.components.predictions import exact, power
from refute.components.predictions import Directional, Phrase, TestResult, Unit, paired, undefined, values
from refute.components.predictions import _ratio
from refute.components.predictions.outcome import Outcome
from refute.components.predictions.resampling import bootstrap_ci


PAIRED = ("paired_t", "wilcoxon")
RANKED = ("mannwhitney", "wilcoxon")


class Compare(Directional):
    kind: Literal["compare"] = Field(description="compare two conditions")
    conditions: tuple[str, str] = Field(description="[a, b]: the effect is a − b")
    test: Literal["welch", "mannwhitney", "paired_t", "wilcoxon"] = Field(
        "welch",
        description="welch (difference of means) | mannwhitney (Hodges–Lehmann shift) | paired by seed: "
        "paired_t (mean difference) | wilcoxon (pseudo-median difference)",
    )
    scale: Literal["difference", "ratio"] = Field(
        "difference", description="difference: the effect is a − b; ratio: a / b, tested on ln values and "
        "reported back-transformed (every value must be positive)",
    )
    min_ratio: float = Field(
        1.0, ge=1, description="with scale: ratio, the smallest ratio of interest: a / b ≥ min_ratio "
        "(direction greater) or ≤ 1/min_ratio (less); 1: any ratio in the predicted direction",
    )

    @model_validator(mode="after")
    def _ratio_fields(self):
        if self.scale == "ratio" and self.min_effect:
            raise ValueError("with scale: ratio the smallest effect of interest is min_ratio (e.g. 2 for "
                             "'at least twice'), not min_effect")
        if self.scale == "difference" and self.min_ratio != 1:
            raise ValueError("min_ratio needs scale: ratio (for a difference, use min_effect)")
        return self

    def conditions_used(self, available=None) -> list[str]:
        return list(self.conditions)

    def claim(self) -> list[Phrase]:
        if self.scale == "difference":
            return super().claim()
        return [Phrase("predicted direction of the ratio a / b "), Phrase(self.direction, "strong"),
                Phrase(f", smallest ratio of interest {self.min_ratio:g}")]

    def outcome(self, result: TestResult, p: float, ci: tuple[float, float], level: float = 0.95) -> Outcome:
        if self.scale == "difference":
            return super().outcome(result, p, ci, level)
        return _ratio.judge_ratio(self.direction, self.alpha, self.min_ratio, p, result.estimate, ci,
                                  result.n_min(), level)

    def planned_effect(self, result: TestResult) -> tuple[float, str]:
        if self.scale == "difference":
            return super().planned_effect(result)
        # Seeds are planned on the log scale, where the test runs.
        if self.min_ratio > 1:
            return float(np.log(self.min_ratio)), "ln of the declared smallest ratio of interest"
        est = abs(float(np.log(result.estimate))) if result.estimate > 0 else float("nan")
        if np.isfinite(est) and est > 0:
            return est, "observed ln ratio (no smallest ratio of interest declared)"
        return float("nan"), ""

    def least_favourable(self, unit: Unit) -> float | None:
        if self.test not in RANKED or self.direction == "two-sided":
            return None
        # A failed run in a counts as the worst a could be; in b, as the best b could be.
        against_a = -np.inf if self.direction == "greater" else np.inf
        return against_a if unit.condition == self.conditions[0] else -against_a

    def power(self, result: TestResult, data: pd.DataFrame, alpha: float) -> dict | None:
        paired_test = self.test in PAIRED
        if "exact_p_floor" in result.extra:
            if paired_test:
                return self.exact_power(result, alpha, exact.sign_floor, "sign", "seeds (pairs)")
            return self.exact_power(result, alpha, lambda k: exact.permutation_floor(k, k), "permutation",
                                    "seeds per condition")
        effect, basis = self.planned_effect(result)
        sd = result.extra.get("sd_diff" if paired_test else "sd_pooled", float("nan"))
        n = result.n_min()
        rank = self.test in RANKED
        name = {"welch": "TTestIndPower", "mannwhitney": "TTestIndPower ÷ ARE 3/π",
                "paired_t": "TTestPower on per-seed differences",
                "wilcoxon": "TTestPower on per-seed differences ÷ ARE 3/π"}[self.test]
        return power.plan(effect, basis, n, alpha, f"{name}, sd {sd:.4g} from the runs",
                          lambda k: power.t_power(effect, sd, k, alpha, self.direction, 1 if paired_test else 2, rank),
                          unit="seeds (pairs)" if paired_test else "seeds per condition")

    def check_kind(self, conditions) -> list[tuple[str, str]]:
        a, b = (conditions.get(c) for c in self.conditions)
        if self.test in PAIRED and a is not None and b is not None and not set(a.seeds) & set(b.seeds):
            return [("test", f"{self.test} pairs runs by seed, but {self.conditions[0]} and {self.conditions[1]} "
                             "share no seed")]
        return []


@PREDICTIONS.register("compare", Compare)
def evaluate(pred: Compare, data: pd.DataFrame, level: float = 0.95) -> TestResult:
    """compare two conditions (independent or paired by seed)"""
    from scipy import stats

    a_name, b_name = pred.conditions
    if pred.scale == "ratio":
        logged = _ratio.log_values(data)
        if isinstance(logged, str):
            return _ratio.cannot(pred.test, a_name, b_name, data, logged)
        return _ratio.on_log_scale(evaluate(pred.model_copy(update={"scale": "difference"}), logged, level),
                                   a_name, b_name)
    label = f"{a_name} − {b_name}"
    alt = pred.direction
    if pred.test in PAIRED:
        a, b, seeds = paired(data, a_name, b_name)
        return _paired(pred, a - b, {"pairs": len(seeds)}, label, level)
    a, b = values(data, a_name), values(data, b_name)
    n = {a_name: len(a), b_name: len(b)}
    if min(n.values()) < 2:
        return undefined(pred.test, f"{label}", n, "fewer than 2 runs in a group")
    if pred.test == "welch":
        est = float(np.mean(a) - np.mean(b))
        if exact.constant(a) and exact.constant(b):
            # Both groups constant: a t statistic would be infinite; what the runs show is the ordering.
            return exact.two_groups(est, len(a), len(b), pred.direction, level, f"difference of means ({label})", n)
        res = stats.ttest_ind(a, b, equal_var=False, alternative=alt)
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
        sd = power.pooled_sd(a, b)
        g = est / sd * (1 - 3 / (4 * (len(a) + len(b)) - 9)) if sd > 0 else float("nan")
        return TestResult("Welch t-test", float(res.statistic), float(res.pvalue), est,
                          (float(ci.low), float(ci.high)), f"difference of means ({label})", n,
                          {"hedges_g": g, "sd_pooled": sd}, ci_level=level)
    est = float(np.median(np.subtract.outer(a, b)))
    if exact.constant(a) and exact.constant(b):
        # Ties within each group make scipy's U test asymptotic, and too small with few runs: be exact.
        return exact.two_groups(est, len(a), len(b), pred.direction, level, f"Hodges–Lehmann shift ({label})", n)
    res = stats.mannwhitneyu(a, b, alternative=alt)
    ci = bootstrap_ci((a, b), lambda x, y, axis=-1: _hl_shift(x, y, axis), level)
    cles = float(res.statistic) / (len(a) * len(b))
    # Failed runs counted against the prediction are ±inf: plan seeds from the finite spread.
    sd = power.pooled_sd(a[np.isfinite(a)], b[np.isfinite(b)])
    return TestResult("Mann–Whitney U", float(res.statistic), float(res.pvalue), est, ci,
                      f"Hodges–Lehmann shift ({label})", n, {"prob_a_greater": cles, "sd_pooled": sd}, ci_level=level)


def _paired(pred: Compare, d: np.ndarray, n: dict[str, int], label: str, level: float) -> TestResult:
    from scipy import stats

    if len(d) < 2:
        return undefined(pred.test, label, n, "fewer than 2 seeds measured in both conditions")
    if pred.test == "paired_t":
        est = float(np.mean(d))
        if exact.constant(d):  # every seed differs by the same amount: a t statistic would be infinite
            return exact.one_sample(est, len(d), pred.direction, level, f"mean per-seed difference ({label})", n)
        res = stats.ttest_1samp(d, 0.0, alternative=pred.direction)
        ci = stats.ttest_1samp(d, 0.0).confidence_interval(level)
        sd = float(np.std(d, ddof=1))
        return TestResult("paired t-test", float(res.statistic), float(res.pvalue), est, (float(ci.low), float(ci.high)),
                          f"mean per-seed difference ({label})", n, {"cohens_dz": est / sd, "sd_diff": sd},
                          ci_level=level)
    return signed_rank(d, pred.direction, f"pseudo-median per-seed difference ({label})", n, level)


def signed_rank(d: np.ndarray, direction: str, effect: str, n: dict[str, int], level: float) -> TestResult:
    """Wilcoxon signed-rank test of d against 0; the effect is the Hodges–Lehmann pseudo-median of d
    (the median of the Walsh averages, the estimate that matches the test), with the CI that inverts the
    same test (walsh_ci)."""
    from scipy import stats

    est = float(pseudomedian(d))
    if np.all(d == 0):
        return TestResult("Wilcoxon signed-rank", 0.0, 1.0, 0.0, (0.0, 0.0), effect, n,
                          notes=["every difference is zero"], ci_level=level)
    res = stats.wilcoxon(d, alternative=direction)
    ci, achieved = walsh_ci(d, level)
    fin = d[np.isfinite(d)]
    sd = float(np.std(fin, ddof=1)) if len(fin) > 1 else float("nan")
    notes = [] if np.isfinite(achieved) else [
        f"with {len(d)} runs no interval of Walsh averages reaches {100 * level:.4g}% confidence: the CI is unbounded"]
    return TestResult("Wilcoxon signed-rank", float(res.statistic), float(res.pvalue), est, ci, effect, n,
                      {"sd_diff": sd, "ci_achieved_level": achieved}, notes, ci_level=level)


EXACT_UP_TO = 50  # runs; beyond, the signed-rank statistic's normal approximation is used (as scipy does)


def signed_rank_null(n: int) -> np.ndarray:
    """P(T+ = t) for t = 0 … n(n+1)/2 under the null (no ties): each rank's sign is a fair coin."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for r in range(1, n + 1):
        counts[r:] = counts[r:] + counts[:-r].copy()
    return counts / 2.0**n


def walsh_ci(d: np.ndarray, level: float) -> tuple[tuple[float, float], float]:
    """The distribution-free CI of the pseudo-median (Tukey; Hollander & Wolfe §3.3): the k-th smallest and
    k-th largest of the M = n(n+1)/2 Walsh averages, k − 1 the largest t with P(T+ ≤ t) ≤ (1 − level)/2,
    so the interval is the set of shifts the two-sided signed-rank test does not reject. Exact for
    symmetric differences (a paired A/A difference always is) up to EXACT_UP_TO runs without ties, with
    the normal approximation beyond or with ties. Returns the CI and the level it achieves (≥ level; nan
    with an unbounded CI when even the extreme Walsh averages fall short, e.g. n ≤ 5 at 95%)."""
    from scipy import stats

    i, j = np.triu_indices(len(d))
    with np.errstate(invalid="ignore"):
        walsh = np.sort((d[i] + d[j]) / 2)
    walsh = walsh[~np.isnan(walsh)]  # +inf with −inf (runs counted against) has no midpoint
    m, tail = len(walsh), (1 - level) / 2
    n = len(d)
    if n <= EXACT_UP_TO and len(np.unique(np.abs(d))) == n and np.all(d != 0):
        cdf = np.cumsum(signed_rank_null(n))
        below = np.flatnonzero(cdf <= tail + 1e-12)
        if not len(below):
            return (-math.inf, math.inf), math.nan
        k = int(below[-1]) + 1
        achieved = 1 - 2 * float(cdf[k - 1])
    else:
        mean, sd = n * (n + 1) / 4, math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
        k = int(math.floor(mean - stats.norm.ppf(1 - tail) * sd + 0.5))  # continuity-corrected lower quantile
        if k < 1:
            return (-math.inf, math.inf), math.nan
        achieved = 1 - 2 * float(stats.norm.cdf((k - 0.5 - mean) / sd))
    if k > m - k + 1:
        return (-math.inf, math.inf), math.nan
    return (float(walsh[k - 1]), float(walsh[m - k])), achieved


def pseudomedian(v: np.ndarray) -> np.ndarray:
    """Median of the Walsh averages (v_i + v_j)/2, i ≤ j, over the last axis."""
    i, j = np.triu_indices(v.shape[-1])
    with np.errstate(invalid="ignore"):
        walsh = (v[..., i] + v[..., j]) / 2
    return np.median(walsh, axis=-1)


def _hl_shift(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    diffs = x[..., :, None] - y[..., None, :]
    return np.median(diffs.reshape(*diffs.shape[:-2], -1), axis=-1)
