"""compare: one condition against another (Welch's t-test or Mann–Whitney U).

The effect is condition a minus condition b: the difference of means (Welch) or the
Hodges–Lehmann shift, the median of all pairwise differences (Mann–Whitney).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field
from scipy import stats

from refute.registry import PREDICTIONS
from refute.stats.kinds._base import Prediction, TestResult
from refute.stats.resampling import bootstrap_ci


class Compare(Prediction):
    kind: Literal["compare"] = Field(description="compare two conditions")
    conditions: tuple[str, str] = Field(description="[a, b]: the effect is a − b")
    test: Literal["welch", "mannwhitney"] = Field("welch", description="Welch's t-test or Mann–Whitney U")

    def conditions_used(self) -> list[str]:
        return list(self.conditions)


@PREDICTIONS.register("compare", Compare)
def evaluate(pred: Compare, samples: dict[str, np.ndarray]) -> TestResult:
    """compare two conditions"""
    a_name, b_name = pred.conditions
    a, b = samples[a_name], samples[b_name]
    n = {a_name: len(a), b_name: len(b)}
    label = f"{a_name} − {b_name}"
    alt = pred.direction
    if pred.test == "welch":
        est = float(np.mean(a) - np.mean(b))
        if np.var(a) == 0 and np.var(b) == 0:
            # Both groups constant: the t statistic is infinite and the difference is known exactly.
            p = _degenerate_p(est, pred.direction)
            return TestResult("Welch t-test", float(np.sign(est) * np.inf) if est else 0.0, p, est, (est, est),
                              f"difference of means ({label})", n, notes=["no variance in either group"])
        res = stats.ttest_ind(a, b, equal_var=False, alternative=alt)
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
        sd = np.sqrt((np.var(a, ddof=1) * (len(a) - 1) + np.var(b, ddof=1) * (len(b) - 1)) / (len(a) + len(b) - 2))
        g = est / sd * (1 - 3 / (4 * (len(a) + len(b)) - 9)) if sd > 0 else float("nan")
        return TestResult("Welch t-test", float(res.statistic), float(res.pvalue), est,
                          (float(ci.low), float(ci.high)), f"difference of means ({label})", n, {"hedges_g": g})
    res = stats.mannwhitneyu(a, b, alternative=alt)
    est = float(np.median(np.subtract.outer(a, b)))
    ci = bootstrap_ci((a, b), lambda x, y, axis=-1: _hl_shift(x, y, axis))
    cles = float(res.statistic) / (len(a) * len(b))
    return TestResult("Mann–Whitney U", float(res.statistic), float(res.pvalue), est, ci,
                      f"Hodges–Lehmann shift ({label})", n, {"prob_a_greater": cles})


def _hl_shift(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    diffs = x[..., :, None] - y[..., None, :]
    return np.median(diffs.reshape(*diffs.shape[:-2], -1), axis=-1)


def _degenerate_p(est: float, direction: str) -> float:
    if direction == "greater":
        return 0.0 if est > 0 else 1.0
    if direction == "less":
        return 0.0 if est < 0 else 1.0
    return 0.0 if est != 0 else 1.0
