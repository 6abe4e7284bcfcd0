"""One number per run from several of its metrics: a statistic of how they relate to their x.

Some claims set one quantity of a run against another quantity of the same run, then compare runs:
"the two-layer network orders its modes by singular value more steeply than the one-layer one".
`metric:` may then name several metrics, each with its x, and a statistic:

    metric:
      across: {mode_strength_0: 4.0, mode_strength_1: 2.0, mode_strength_2: 1.0}
      statistic: loglog_slope
    reduce: {name: first_crossing, threshold: 0.5}

Every metric is reduced as usual (here: the step it reaches 0.5), giving points (x_i, y_i) per
run; the statistic of those points is the run's value, which any prediction kind (compare,
threshold, equivalence, ...) then tests across seeds like any reduced value. (To pool all the
points of all runs into one trend instead, use the trend kind with `x: {metrics: ...}`.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from refute.registry import Params

if TYPE_CHECKING:
    import pandas as pd


class AcrossMetrics(Params):
    across: dict[str, float] = Field(
        min_length=2, description="metric -> its x value (e.g. each mode's singular value); one point per metric"
    )
    statistic: Literal["spearman", "slope", "loglog_slope"] = Field(
        description="per run: Spearman rank correlation of y with x, the OLS slope of y on x, or the OLS slope "
        "of log y on log x (an exponent)"
    )

    def label(self) -> str:
        return f"{self.statistic}({', '.join(self.across)})"


def per_run(spec: AcrossMetrics, reduced: pd.DataFrame) -> pd.DataFrame:
    """Collapse reduced rows (one per metric and seed, x set) into one row per (condition, seed).

    A run's value is nan when fewer finite points remain than the statistic needs (3 for Spearman,
    2 for slopes) or when it is undefined (all y tied, for Spearman; a value ≤ 0, for log–log). It
    is censored or failed if any of its points is.
    """
    rows = []
    for (cond, seed), g in reduced.groupby(["condition", "seed"], sort=True):
        ok = np.isfinite(g.value.to_numpy(float))
        rows.append({**g.iloc[0].to_dict(), "metric": spec.label(), "x": float("nan"),
                     "value": statistic(spec.statistic, g.x.to_numpy(float)[ok], g.value.to_numpy(float)[ok]),
                     "censored": bool(g.censored.any()), "failed": bool(g.failed.any())})
    import pandas as pd

    return pd.DataFrame(rows, columns=reduced.columns)


def statistic(name: str, x: np.ndarray, y: np.ndarray) -> float:
    from scipy import stats

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
