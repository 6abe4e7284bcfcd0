"""threshold: one condition's reduced value against a fixed number (one-sample t or Wilcoxon).

The effect is value minus threshold: the mean (t-test) or the median (Wilcoxon signed-rank).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field
from scipy import stats

from refute.registry import PREDICTIONS
from refute.stats.kinds._base import Prediction, TestResult
from refute.stats.kinds.compare import _degenerate_p
from refute.stats.resampling import bootstrap_ci


class Threshold(Prediction):
    kind: Literal["threshold"] = Field(description="test one condition's value against a threshold")
    condition: str = Field(description="the condition whose runs are tested")
    threshold: float = Field(description="the effect is value − threshold")
    test: Literal["t", "wilcoxon"] = Field("t", description="one-sample t-test or Wilcoxon signed-rank test")

    def conditions_used(self) -> list[str]:
        return [self.condition]


@PREDICTIONS.register("threshold", Threshold)
def evaluate(pred: Threshold, samples: dict[str, np.ndarray]) -> TestResult:
    """test one condition against a threshold"""
    x = samples[pred.condition] - pred.threshold
    n = {pred.condition: len(x)}
    label = f"{pred.condition} − {pred.threshold:g}"
    if pred.test == "t":
        est = float(np.mean(x))
        if np.var(x) == 0:
            p = _degenerate_p(est, pred.direction)
            return TestResult("one-sample t-test", float(np.sign(est) * np.inf) if est else 0.0, p, est, (est, est),
                              f"mean ({label})", n, notes=["no variance across seeds"])
        res = stats.ttest_1samp(x, 0.0, alternative=pred.direction)
        ci = stats.ttest_1samp(x, 0.0).confidence_interval(0.95)
        d = est / np.std(x, ddof=1)
        return TestResult("one-sample t-test", float(res.statistic), float(res.pvalue), est,
                          (float(ci.low), float(ci.high)), f"mean ({label})", n, {"cohens_d": float(d)})
    est = float(np.median(x))
    if np.all(x == 0):
        return TestResult("Wilcoxon signed-rank", 0.0, 1.0, 0.0, (0.0, 0.0), f"median ({label})", n,
                          notes=["every value equals the threshold"])
    res = stats.wilcoxon(x, alternative=pred.direction)
    ci = bootstrap_ci((x,), lambda v, axis=-1: np.median(v, axis=axis))
    return TestResult("Wilcoxon signed-rank", float(res.statistic), float(res.pvalue), est, ci,
                      f"median ({label})", n)
