"""A prediction's metric may be a relation *across several metrics of one run*, summarized per run.

Some claims compare metrics within a run rather than runs with each other: "each teacher mode is
learned in order of its singular value" relates mode_strength_i to s_i. In YAML, `metric:` then
names each metric with its x value and a statistic:

    metric:
      across: {mode_strength_0: 4.0, mode_strength_1: 2.0, mode_strength_2: 1.0}
      statistic: spearman
    reduce: {name: first_crossing, threshold: 0.5}

Each metric's series is reduced as usual (here: the step it reaches 0.5), giving points (x_i, y_i)
per run; the statistic of those points is the run's one number, which any prediction kind then
tests across seeds and conditions like any reduced value.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import stats

from refute.registry import Params
from refute.stats import reductions


class AcrossMetrics(Params):
    across: dict[str, float] = Field(
        min_length=2, description="metric -> its x value (e.g. each mode's singular value); one point per metric"
    )
    statistic: Literal["spearman", "slope", "loglog_slope"] = Field(
        description="per run: Spearman rank correlation of y with x, the OLS slope of y on x, or the OLS slope "
        "of log y on log x (an exponent)"
    )


def metrics_used(metric: str | AcrossMetrics) -> list[str]:
    return [metric] if isinstance(metric, str) else list(metric.across)


def describe(metric: str | AcrossMetrics) -> str:
    if isinstance(metric, str):
        return metric
    points = ", ".join(f"{m} (x = {x:g})" for m, x in metric.across.items())
    return f"{metric.statistic} across {points}"


def summarize(spec: AcrossMetrics, reduce, run: pd.DataFrame, budget: int) -> tuple[float, bool]:
    """The statistic of one run's (x, reduced y) points, and whether any y was censored.

    `run` is that run's rows (step, metric, value). Points with no finite y are left out; the value
    is nan when fewer than the statistic needs remain (3 for Spearman, 2 for slopes), or when it is
    undefined (all y tied, for Spearman; a non-positive value, for log–log).
    """
    xs, ys, censored = [], [], False
    for metric, x in spec.across.items():
        g = run[run.metric == metric]
        if not len(g):
            continue
        y = reductions.apply(reduce, g.step.to_numpy(), g.value.to_numpy(), budget)
        censored |= reductions.is_censored(reduce, y, budget)
        if np.isfinite(y):
            xs.append(x)
            ys.append(y)
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    return _statistic(spec.statistic, x, y), censored


def _statistic(name: str, x: np.ndarray, y: np.ndarray) -> float:
    if name == "spearman":
        if len(x) < 3 or np.ptp(y) == 0 or np.ptp(x) == 0:
            return float("nan")
        return float(stats.spearmanr(x, y).statistic)
    if name == "loglog_slope":
        if (x <= 0).any() or (y <= 0).any():
            return float("nan")
        x, y = np.log(x), np.log(y)
    if len(x) < 2 or np.ptp(x) == 0:
        return float("nan")
    return float(stats.linregress(x, y).slope)
