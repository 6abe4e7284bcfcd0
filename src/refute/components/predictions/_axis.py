"""The x axis of trend and power-law predictions: where each measured value sits.

Either a training parameter that differs between conditions (`x: {param: train.lr}`: each
condition's runs sit at that condition's value), or several metrics logged within every run, each
declared at its own x (`x: {metrics: {mode0_progress: 3.0, mode1_progress: 1.0}}`: one point per
metric per seed, e.g. per-mode quantities of one network at their known singular values).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from refute.registry import Params
from refute.components.predictions import Unit, param_value


class FromParam(Params):
    param: str = Field(description="dotted field of the run spec whose value in each condition is x, "
                                   "e.g. train.lr or model.params.width")


class FromMetrics(Params):
    metrics: dict[str, float] = Field(
        min_length=2, description="metric → its x value; every run gives one point per metric"
    )


class AlongAxis:
    """What the kinds whose value is read along an x axis (trend, no_trend, power_law) share: which conditions
    they read, their units (one per condition and x) and the axis's check. Mixed in before the kind's base."""

    def conditions_used(self, available=None) -> list[str]:
        return list(self.conditions) if self.conditions is not None else list(available or [])

    def axis_metrics(self) -> dict[str, float] | None:
        return self.x.metrics if isinstance(self.x, FromMetrics) else None

    def units(self, conditions) -> list[Unit]:
        return axis_units(self.x, self.metric, self.reduce, self.conditions_used(list(conditions)), conditions)

    def check_kind(self, conditions) -> list[tuple[str, str]]:
        return axis_check(self.x, self.metric, self.conditions_used(list(conditions)), conditions, positive=self.log_x)


def axis_units(x: FromParam | FromMetrics, metric: str | None, reduce: Any, conditions: list[str],
               specs: dict[str, Any]) -> list[Unit]:
    if isinstance(x, FromMetrics):
        return [Unit(c, m, reduce, float(v)) for c in conditions for m, v in x.metrics.items()]
    return [Unit(c, metric, reduce, float(param_value(specs[c], x.param))) for c in conditions if specs.get(c)]


_WORDS = {2: "two", 3: "three"}


def axis_check(x: FromParam | FromMetrics, metric: str | None, conditions: list[str], specs: dict[str, Any],
               positive: bool = False, least: int = 2) -> list[tuple[str, str]]:
    """Problems with the axis: missing or non-numeric parameters, fewer than `least` distinct x, bad log scale."""
    if isinstance(x, FromMetrics):
        issues = [("metric", "with `x: {metrics: ...}` the metrics are listed under x; drop `metric`")] if metric else []
        xs = list(x.metrics.values())
    else:
        if not metric:
            return [("metric", "required with `x: {param: ...}`: the metric measured at each condition's x")]
        issues, xs = [], []
        for c in conditions:
            if specs.get(c) is None:
                continue
            try:
                v = param_value(specs[c], x.param)
            except (KeyError, ValueError, IndexError):
                issues.append(("x.param", f"condition {c!r} has no field {x.param!r}"))
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                issues.append(("x.param", f"{x.param} is {v!r} in condition {c!r}; x must be a number"))
                continue
            xs.append(float(v))
    if positive and any(not (v > 0 and math.isfinite(v)) for v in xs):
        issues.append(("x", "a log scale needs every x > 0"))
    if not issues and len(set(xs)) < least:
        issues.append(("x", f"needs at least {_WORDS.get(least, least)} distinct x values; found {sorted(set(xs))} "
                            "(list several conditions, or sweep the parameter)"))
    return issues


def seeds_repeat(data: pd.DataFrame) -> bool:
    """True when some seed is measured at more than one x: its points are not independent."""
    return bool((data.groupby("seed").x.nunique() > 1).any())


def levels(data: pd.DataFrame) -> int:
    return int(np.unique(data.x.to_numpy()).size)
