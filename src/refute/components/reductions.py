"""Reductions: the closed vocabulary that turns one run's logged time series into one number.

Each reduction is registered by name with typed parameters; a prediction's `reduce:` picks one,
e.g. `reduce: final` or `reduce: {name: first_crossing, threshold: 0.95}`. No user string is
ever evaluated.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import numpy as np
from pydantic import Field

from refute.registry import Params, Registry, flat


class ReductionParams(Params):
    """Base of every reduction's parameters: the registered name, beside the reduction's own fields."""

    name: str = Field(description="the reduction, e.g. final or first_crossing")


class Reducer(ABC):
    """A reduction: one run's series (steps ascending) -> one number. (`Reduction` is the spec type of `reduce:`.)"""

    @abstractmethod
    def reduce(self, p: ReductionParams, steps: np.ndarray, values: np.ndarray, budget: int) -> float: ...

    def censored(self, p: ReductionParams, value: float, budget: int) -> bool:
        """Whether `value` stands for an event not seen within the step budget (its true value is later)."""
        return False

    def reads(self, p: ReductionParams, steps: np.ndarray, values: np.ndarray, budget: int) -> np.ndarray:
        """Which evaluations the reduced value depends on (a mask over `steps`): the steps whose health
        certificates (refute.components.certificates) it needs. Default: every step."""
        return np.ones(len(steps), dtype=bool)


REDUCTIONS: Registry[Reducer] = Registry("reduction", __name__, contract=Reducer, params_base=ReductionParams)
# `reduce:` in a prediction: a name or {name, ...params}.
Reduction = flat(REDUCTIONS)


class NoParams(ReductionParams):
    pass


@REDUCTIONS.register("final", NoParams)
class Final(Reducer):
    """the value at the last evaluation"""

    def reduce(self, p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
        return float(values[-1])

    def reads(self, p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> np.ndarray:
        return np.arange(len(steps)) == len(steps) - 1


@REDUCTIONS.register("max", NoParams)
class Maximum(Reducer):
    """the largest value over training"""

    def reduce(self, p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
        return float(np.max(values))

    def reads(self, p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> np.ndarray:
        return values == np.max(values)


@REDUCTIONS.register("min", NoParams)
class Minimum(Reducer):
    """the smallest value over training"""

    def reduce(self, p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
        return float(np.min(values))

    def reads(self, p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> np.ndarray:
        return values == np.min(values)


@REDUCTIONS.register("change", NoParams)
class Change(Reducer):
    """the last value minus the first: how far training moved the metric"""

    def reduce(self, p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
        return float(values[-1] - values[0])

    def reads(self, p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> np.ndarray:
        return np.isin(np.arange(len(steps)), [0, len(steps) - 1])


class MeanLast(ReductionParams):
    k: int = Field(5, gt=0, description="number of final evaluations to average")


@REDUCTIONS.register("mean_last", MeanLast)
class MeanOfLast(Reducer):
    """the mean over the last k evaluations"""

    def reduce(self, p: MeanLast, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
        return float(np.mean(values[-p.k :]))

    def reads(self, p: MeanLast, steps: np.ndarray, values: np.ndarray, budget: int) -> np.ndarray:
        return np.arange(len(steps)) >= len(steps) - p.k


class FirstCrossing(ReductionParams):
    threshold: float = Field(description="the level to cross")
    above: bool = Field(True, description="true: first step with value >= threshold; false: value <= threshold")
    if_never: Literal["budget", "nan"] = Field(
        "budget",
        description="a run that never crosses counts as the step budget (censored: the true step is later) "
        "or as missing (nan, dropped and counted)",
    )


@REDUCTIONS.register("first_crossing", FirstCrossing)
class FirstCrossingStep(Reducer):
    """the first logged step at which the metric crosses a threshold"""

    def censored(self, p: FirstCrossing, value: float, budget: int) -> bool:
        """A run that never crossed counts as the budget (if_never: budget): the true step is later."""
        return p.if_never == "budget" and value >= budget

    def reduce(self, p: FirstCrossing, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
        hit = values >= p.threshold if p.above else values <= p.threshold
        if hit.any():
            return float(steps[np.argmax(hit)])
        return float(budget) if p.if_never == "budget" else float("nan")

    def reads(self, p: FirstCrossing, steps: np.ndarray, values: np.ndarray, budget: int) -> np.ndarray:
        # The crossing step, and every step before it: each says "not yet crossed".
        hit = values >= p.threshold if p.above else values <= p.threshold
        return np.arange(len(steps)) <= (np.argmax(hit) if hit.any() else len(steps))


@REDUCTIONS.register("auc", NoParams)
class Auc(Reducer):
    """the time-average of the metric: area under its curve divided by the steps it spans"""

    def reduce(self, p: NoParams, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
        if len(steps) < 2:
            return float(values[0])
        return float(np.trapezoid(values, steps) / (steps[-1] - steps[0]))


def is_censored(reduce, value: float, budget: int) -> bool:
    """True where the reduced value stands for an event not seen within the budget (see Reducer.censored)."""
    return REDUCTIONS.get(reduce.name).impl.censored(reduce, value, budget)


def apply(reduce, steps: np.ndarray, values: np.ndarray, budget: int) -> float:
    """Reduce one run's series with the validated `reduce` spec from a prediction."""
    entry = REDUCTIONS.get(reduce.name)
    order = np.argsort(steps, kind="stable")
    return entry.impl.reduce(reduce, np.asarray(steps)[order], np.asarray(values, dtype=float)[order], budget)


def steps_read(reduce, steps: np.ndarray, values: np.ndarray, budget: int) -> np.ndarray:
    """The logged steps that `reduce` reads to give one run's value (see Reducer.reads)."""
    entry = REDUCTIONS.get(reduce.name)
    order = np.argsort(steps, kind="stable")
    s, v = np.asarray(steps)[order], np.asarray(values, dtype=float)[order]
    mask = np.asarray(entry.impl.reads(reduce, s, v, budget), dtype=bool)
    return s[mask]
