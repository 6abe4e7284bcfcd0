"""threshold: one condition's reduced value against a fixed number (one-sample t or Wilcoxon).

The effect is value minus threshold: the mean (t-test) or the Hodges–Lehmann pseudo-median
(Wilcoxon signed-rank).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from refute.components.predictions import PREDICTIONS
from refute.components.predictions import exact, power
from refute.components.predictions import Directional, TestResult, Unit, undefined, values
from refute.components.predictions.compare import signed_rank


class Threshold(Directional):
    kind: Literal["threshold"] = Field(description="test one condition's value against a threshold")
    condition: str = Field(description="the condition whose runs are tested")
    threshold: float = Field(description="the effect is value − threshold")
    test: Literal["t", "wilcoxon"] = Field("t", description="one-sample t-test or Wilcoxon signed-rank test")

    def conditions_used(self, available=None) -> list[str]:
        return [self.condition]

    def least_favourable(self, unit: Unit) -> float | None:
        if self.test != "wilcoxon" or self.direction == "two-sided":
            return None
        return -np.inf if self.direction == "greater" else np.inf


    def power(self, result: TestResult, data: pd.DataFrame, alpha: float) -> dict | None:
        if "exact_p_floor" in result.extra:
            return self.exact_power(result, alpha, exact.sign_floor, "sign", "seeds per condition")
        effect, basis = self.planned_effect(result)
        sd = result.extra.get("sd", result.extra.get("sd_diff", float("nan")))
        rank = self.test == "wilcoxon"
        return power.plan(effect, basis, result.n_min(), alpha,
                          f"TTestPower{' ÷ ARE 3/π' if rank else ''}, sd {sd:.4g} from the runs",
                          lambda k: power.t_power(effect, sd, k, alpha, self.direction, 1, rank))


@PREDICTIONS.register("threshold", Threshold)
def evaluate(pred: Threshold, data: pd.DataFrame, level: float = 0.95) -> TestResult:
    """test one condition against a threshold"""
    from scipy import stats

    x = values(data, pred.condition) - pred.threshold
    n = {pred.condition: len(x)}
    label = f"{pred.condition} − {pred.threshold:g}"
    if len(x) < 2:
        return undefined(pred.test, label, n, "fewer than 2 runs")
    if pred.test == "wilcoxon":
        return signed_rank(x, pred.direction, f"pseudo-median ({label})", n, level)
    est = float(np.mean(x))
    if exact.constant(x):  # every run at the same value (a ceiling): a t statistic would be infinite
        return exact.one_sample(est, len(x), pred.direction, level, f"mean ({label})", n)
    if exact.stacked(x):  # most runs at a bound, a few off it
        return exact.stacked_sign(x, pred.direction, level, f"mean ({label})", n)
    res = stats.ttest_1samp(x, 0.0, alternative=pred.direction)
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(level)
    sd = float(np.std(x, ddof=1))
    return TestResult("one-sample t-test", float(res.statistic), float(res.pvalue), est,
                      (float(ci.low), float(ci.high)), f"mean ({label})", n, {"cohens_d": est / sd, "sd": sd},
                      ci_level=level)
