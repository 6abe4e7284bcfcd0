"""correlation: two quantities measured in the same runs move together across seeds.

Each run (condition, seed) gives one pair: `x` (its metric, reduced its way) and the prediction's
own metric. The effect is Pearson's r (`test: pearson`, CI by Fisher's z) or Spearman's ρ
(`test: spearman`, Fisher's z with the Bonett–Wright variance). Pairs from several conditions are
pooled; differences between conditions then contribute to the correlation (the report says so).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from refute.components.predictions import PREDICTIONS
from refute.components.reductions import Reduction
from refute.registry import Params
from refute.components.predictions import power
from refute.components.predictions import Directional, TestResult, Unit, undefined
from refute.components.predictions.trend import rank_ci


class Measured(Params):
    metric: str = Field(description="the other logged metric")
    reduce: Reduction = Field(description="how each run's series of it becomes one number")


class Correlation(Directional):
    kind: Literal["correlation"] = Field(description="two measured quantities correlate across runs")
    x: Measured = Field(description="the other quantity: {metric, reduce}")
    conditions: list[str] | None = Field(None, description="conditions whose runs are pooled (default: all)")
    test: Literal["pearson", "spearman"] = Field("spearman", description="spearman (rank, ρ) | pearson (linear, r)")

    def conditions_used(self, available=None) -> list[str]:
        return list(self.conditions) if self.conditions is not None else list(available or [])

    def units(self, conditions) -> list[Unit]:
        used = self.conditions_used(list(conditions))
        return [Unit(c, self.metric, self.reduce) for c in used] + \
               [Unit(c, self.x.metric, self.x.reduce, role="x") for c in used]

    def power(self, result: TestResult, data: pd.DataFrame, alpha: float) -> dict | None:
        effect, basis = self.planned_effect(result)
        return power.plan(effect, basis, result.n.get("pairs", 0), alpha,
                          f"Fisher z{' (Bonett–Wright)' if self.test == 'spearman' else ''}",
                          lambda k: power.fisher_power(effect, k, alpha, self.direction, self.test == "spearman"),
                          min_n=4, unit="runs (pairs) in all")


@PREDICTIONS.register("correlation", Correlation)
def evaluate(pred: Correlation, data: pd.DataFrame, level: float = 0.95) -> TestResult:
    """two measured quantities correlate across runs (Pearson r or Spearman ρ)"""
    from scipy import stats

    wide = data.pivot_table(index=["condition", "seed"], columns="role", values="value", aggfunc="first")
    wide = wide.dropna() if {"x", "y"} <= set(wide.columns) else wide.iloc[0:0]
    n = {"pairs": len(wide)}
    name = "Pearson r" if pred.test == "pearson" else "Spearman ρ"
    effect = f"{name} between {pred.x.metric} and {pred.metric}"
    if len(wide) < 3:
        return undefined(name, effect, n, "fewer than 3 runs measured both quantities")
    x, y = wide["x"].to_numpy(float), wide["y"].to_numpy(float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return undefined(name, effect, n, "one of the quantities is the same in every run")
    notes = []
    conds = wide.index.get_level_values("condition").nunique()
    if conds > 1:
        notes.append(f"pairs pooled over {conds} conditions: differences between conditions contribute to the "
                     "correlation")
    if pred.test == "pearson":
        res = stats.pearsonr(x, y, alternative=pred.direction)
        ci = stats.pearsonr(x, y).confidence_interval(level) if len(x) > 3 else None
        r = float(res.statistic)
        ci = (float(ci.low), float(ci.high)) if ci is not None else (float("nan"), float("nan"))
    else:
        res = stats.spearmanr(x, y, alternative=pred.direction)
        r = float(res.statistic)
        ci = rank_ci(r, len(x), level)
    return TestResult(f"{name} correlation", r, float(res.pvalue), r, ci, effect, n, notes=notes, ci_level=level)
