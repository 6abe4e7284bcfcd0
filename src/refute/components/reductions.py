"""Reductions: the closed vocabulary that turns one run's logged time series into one number.

Each reduction is registered by name with typed parameters; a prediction's `reduce:` picks one,
e.g. `reduce: final` or `reduce: {name: first_crossing, threshold: 0.95}`. No user string is
ever evaluated.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from refute.registry import Params, Registry, flat


class ReductionParams(Params):
    """Base of every reduction's parameters: the registered name, beside the reduction's own fields."""

    name: str = Field(description="the reduction, e.g. final or first_crossing")


REDUCTIONS: Registry = Registry("reduction", __name__, params_base=ReductionParams)
# `reduce:` in a prediction: a name or {name, ...params}.
Reduction = flat(REDUCTIONS)


class NoParams(ReductionParams):
    pass


@REDUCTIONS.register("final", NoParams)
def final(p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
    """the value at the last evaluation"""
    return float(values[-1])


@REDUCTIONS.register("max", NoParams)
def maximum(p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
    """the largest value over training"""
    return float(np.max(values))


@REDUCTIONS.register("min", NoParams)
def minimum(p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
    """the smallest value over training"""
    return float(np.min(values))


@REDUCTIONS.register("change", NoParams)
def change(p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
    """the last value minus the first: how far training moved the metric"""
    return float(values[-1] - values[0])


class MeanLast(ReductionParams):
    k: int = Field(5, gt=0, description="number of final evaluations to average")


@REDUCTIONS.register("mean_last", MeanLast)
def mean_last(p: MeanLast, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
    """the mean over the last k evaluations"""
    return float(np.mean(values[-p.k :]))


class FirstCrossing(ReductionParams):
    threshold: float = Field(description="the level to cross")
    above: bool = Field(True, description="true: first step with value >= threshold; false: value <= threshold")
    if_never: Literal["budget", "nan"] = Field(
        "budget",
        description="a run that never crosses counts as the step budget (censored: the true step is later) "
        "or as missing (nan, dropped and counted)",
    )


@REDUCTIONS.register("first_crossing", FirstCrossing)
def first_crossing(p: FirstCrossing, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
    """the first logged step at which the metric crosses a threshold"""
    hit = values >= p.threshold if p.above else values <= p.threshold
    if hit.any():
        return float(steps[np.argmax(hit)])
    return float(budget) if p.if_never == "budget" else float("nan")


@REDUCTIONS.register("auc", NoParams)
def auc(p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
    """the time-average of the metric: area under its curve divided by the steps it spans"""
    if len(steps) < 2:
        return float(values[0])
    return float(np.trapezoid(values, steps) / (steps[-1] - steps[0]))


def is_censored(reduce, value: float, budget: int) -> bool:
    """True where a first-crossing value stands for 'never crossed within the budget'."""
    return getattr(reduce, "name", None) == "first_crossing" and reduce.if_never == "budget" and value >= budget


def apply(reduce, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
    """Reduce one run's series with the validated `reduce` spec from a prediction."""
    entry = REDUCTIONS.get(reduce.name)
    order = np.argsort(steps, kind="stable")
    return entry.impl(reduce, np.asarray(steps)[order], np.asarray(values, dtype=float)[order], budget)
