"""What every prediction states, whatever its kind, and what every test returns.

A prediction names what to measure (`units`: which metric, reduced how, in which condition, at
which x), a registered function turns the measured values into a `TestResult`, and the
prediction's family decides what the result means (`outcome`):

- `Directional` kinds predict the sign of an effect beyond a smallest effect of interest;
- interval kinds (equivalence, power_law) predict that an effect lies inside a declared range.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
from pydantic import Field, field_validator

from refute.components.predictions.across_metrics import AcrossMetrics
from refute.components.predictions.optimum import Optimum
from refute.components.predictions.outcome import Outcome, judge, judge_interval
from refute.components.reductions import Reduction
from refute.dotted import get_dotted
from refute.registry import SLUG, Params, Registry, flat

# pandas only where a table is made: the run spec imports this module, and a training job need not load it.
if TYPE_CHECKING:
    import pandas as pd

    from refute.spec.schema import RunSpec

# The columns of the table a kind's test receives: one row per measured value.
DATA_COLUMNS = ["condition", "seed", "metric", "role", "x", "value"]


class Unit(NamedTuple):
    """One thing to measure in every seed of a condition: `metric` reduced by `reduce`.

    `x` is the unit's position on a predictor axis (trend, power_law); `role` tells apart the
    two measured quantities of a correlation."""

    condition: str
    metric: str
    reduce: Any
    x: float | None = None
    role: str = "y"


class Phrase(NamedTuple):
    """A piece of a sentence the reports show about a prediction: plain text, a name (`code`: a metric) or
    the claim's key word (`strong`). Each report template styles it its own way."""

    text: str
    style: Literal["", "code", "strong"] = ""


def _metric_list(metrics: dict[str, float]) -> list[Phrase]:
    out: list[Phrase] = []
    for i, (m, x) in enumerate(metrics.items()):
        out += [Phrase(", ")] if i else []
        out += [Phrase(m, "code"), Phrase(f" (x = {x:g})")]
    return out


class Divisor(Params):
    param: str = Field(description="dotted field of the run spec, e.g. train.lr")
    power: float = Field(1.0, description="the field's value is raised to this power")
    times: float = Field(1.0, description="and multiplied by this factor")

    def of(self, run: RunSpec) -> float:
        return self.times * float(param_value(run, self.param)) ** self.power


class Prediction(Params):
    id: str = Field(pattern=SLUG, description="a short slug naming the prediction")
    kind: str = Field(description="the kind of claim, which fixes the test family")
    description: str = Field("", description="the prediction in words")
    metric: str | AcrossMetrics | Optimum = Field(
        description="the logged metric to test, e.g. val_acc; or {across: {metric: x, ...}, statistic} for one "
        "number per run relating several of its metrics to their x (see refute.components.predictions.across_metrics); "
        "or {of, at, over, interpolate} for the swept value at which a metric is best, per seed (see "
        "refute.components.predictions.optimum)"
    )
    reduce: Reduction = Field(description="how each run's time series becomes one number: a name or {name, ...params}")
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level (before correction across predictions)")
    prior: float | None = Field(
        None, ge=0, le=1,
        description="the probability you give, before training, that this prediction holds; scored (Brier) on "
        "the agenda index once the prediction is decided",
    )
    max_censored: float | None = Field(
        None, ge=0, le=1,
        description="the largest share of tested runs censored at the step budget (a run that never reached a "
        "first_crossing threshold) this prediction accepts; beyond it, undecided",
    )
    divide_by: Divisor | None = Field(
        None, description="divide each run's value by times × param^power of its condition, e.g. "
        "{param: train.lr, power: -1, times: 2} tests sharpness ÷ (2/lr)",
    )

    def conditions_used(self, available: list[str] | None = None) -> list[str]:
        """The conditions whose runs this prediction reads (`available`: every condition of the hypothesis)."""
        raise NotImplementedError

    def axis_metrics(self) -> dict[str, float] | None:
        """metric → x, for kinds that place several metrics of each run on an x axis (None: one metric)."""
        return None

    def measures(self) -> list[Phrase]:
        """What the prediction measures, in words: the metric(s) and any divisor."""
        if isinstance(self.metric, AcrossMetrics):
            return [Phrase(f"per run, the {self.metric.statistic} of y on x across metrics "),
                    *_metric_list(self.metric.across), Phrase(", each")]
        if isinstance(self.metric, Optimum):
            o = self.metric
            how = {"none": "", "parabola": ", interpolated by a parabola",
                   "log_parabola": ", interpolated by a parabola in log x"}[o.interpolate]
            return [Phrase("per seed, the "), Phrase(o.over, "code"), Phrase(f" at which "), Phrase(o.of, "code"),
                    Phrase(f" is {'lowest' if o.at == 'min' else 'highest'} across the sweep{how}")]
        axis = self.axis_metrics()
        what = ([Phrase("metrics "), *_metric_list(axis)] if axis else
                [Phrase("metric "), Phrase(self.metric, "code")])
        d = self.divide_by
        if d is not None:
            base = d.param if d.power == 1 else f"{d.param}^{d.power:g}"
            what.append(Phrase(f" ÷ ({base if d.times == 1 else f'{d.times:g} × {base}'})"))
        return what

    def claim(self) -> list[Phrase]:
        """What the prediction says of the effect, in words (each family states its own)."""
        return [Phrase("predicted as stated")]

    def units(self, conditions: dict[str, Any]) -> list[Unit]:
        """What to reduce in each seed; `conditions` maps condition name → its validated run spec."""
        if isinstance(self.metric, AcrossMetrics):
            return [Unit(c, m, self.reduce, x) for c in self.conditions_used(list(conditions))
                    for m, x in self.metric.across.items()]
        return [Unit(c, self.metric, self.reduce) for c in self.conditions_used(list(conditions))]

    def check(self, conditions: dict[str, Any]) -> list[tuple[str, str]]:
        """Problems with this prediction in its hypothesis, as (field, message)."""
        issues = []
        if self.divide_by is not None:
            for c in self.conditions_used(list(conditions)):
                if conditions.get(c) is None:
                    continue
                try:
                    v = param_value(conditions[c], self.divide_by.param)
                except (KeyError, ValueError, IndexError):
                    issues.append(("divide_by.param", f"condition {c!r} has no field {self.divide_by.param!r}"))
                    continue
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v == 0:
                    issues.append(("divide_by.param", f"{self.divide_by.param} is {v!r} in condition {c!r}; "
                                                      "a divisor must be a non-zero number"))
        return issues + self.check_kind(conditions)

    def check_kind(self, conditions: dict[str, Any]) -> list[tuple[str, str]]:
        """Kind-specific problems, as (field, message)."""
        return []

    def outcome(self, result: "TestResult", p: float, ci: tuple[float, float], level: float = 0.95) -> Outcome:
        """holds / contradicted / inconclusive from the (corrected) p and the CI (at `level`) used to contradict."""
        raise NotImplementedError

    def power(self, result: "TestResult", data: pd.DataFrame, alpha: float) -> dict | None:
        """Seeds for 80% power at the smallest effect of interest (see refute.components.predictions.power); None where
        the result gives nothing to plan from."""
        return None

    def least_favourable(self, unit: Unit) -> float | None:
        """The value a failed run takes when failed runs count against the prediction; None where the
        kind's test cannot place it (the loader then rejects `failed_runs: against`)."""
        return None

    def counts_divergence(self) -> bool:
        """Whether a diverged run is what this prediction counts (its value: 1 diverged, 0 not) rather than
        a failed run (refute.stats.analyse)."""
        return False

    def smallest_effect(self) -> float:
        """The effect size the power analysis plans for (0: none declared)."""
        return 0.0


PREDICTIONS: Registry = Registry("prediction kind", __name__, params_base=Prediction)
# An entry of `predictions:` in a hypothesis, chosen by its `kind`.
PredictionSpec = flat(PREDICTIONS, key="kind")


class Directional(Prediction):
    direction: Literal["greater", "less", "two-sided"] = Field(
        description="the predicted sign of the effect (see the kind for what the effect is)"
    )
    min_effect: float = Field(
        0.0,
        ge=0,
        description="smallest effect of interest, in the units of the effect; an effect credibly smaller "
        "than this refutes the prediction",
    )

    def outcome(self, result: "TestResult", p: float, ci: tuple[float, float], level: float = 0.95) -> Outcome:
        return judge(self.direction, self.alpha, self.min_effect, p, result.estimate, ci, result.n_min(), level)

    def smallest_effect(self) -> float:
        return self.min_effect

    def claim(self) -> list[Phrase]:
        return [Phrase("predicted direction "), Phrase(self.direction, "strong"),
                Phrase(f", smallest effect of interest δ = {self.min_effect:g}")]

    def exact_power(self, result: "TestResult", alpha: float, floor_at, test: str, unit: str) -> dict | None:
        """Seeds for an exact test of runs with no spread (refute.components.predictions.exact); None where
        runs at this common value can never hold, however many (the wrong side, or short of δ)."""
        from refute.components.predictions import power

        sign = {"greater": 1.0, "less": -1.0}.get(self.direction)
        est = abs(result.estimate) if sign is None else sign * result.estimate
        if not (est > 0 and est >= self.min_effect):
            return None
        return power.exact_plan(est, result.n_min(), alpha, floor_at, self.direction == "two-sided", test, unit)

    def planned_effect(self, result: "TestResult") -> tuple[float, str]:
        """The effect to plan seeds for: the declared δ, else the observed estimate (said so)."""
        if self.min_effect > 0:
            return self.min_effect, "declared smallest effect of interest δ"
        est = abs(result.estimate)
        if math.isfinite(est) and est > 0:
            return est, "observed effect (no smallest effect of interest declared)"
        return float("nan"), ""


class Interval(Prediction):
    """A prediction that an effect lies in [low, high] (either end may be open)."""

    def bounds(self) -> tuple[float, float]:
        raise NotImplementedError

    def outcome(self, result: "TestResult", p: float, ci: tuple[float, float], level: float = 0.95) -> Outcome:
        low, high = self.bounds()
        return judge_interval(low, high, self.alpha, p, result.estimate, ci, result.n_min(), level)


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class

    test: str
    statistic: float
    p: float
    estimate: float
    ci: tuple[float, float]
    effect: str
    n: dict[str, int]
    extra: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ci_level: float = 0.95

    def n_min(self) -> int:
        return min(self.n.values()) if self.n else 0

    def to_dict(self) -> dict:
        return asdict(self)


def param_value(run: RunSpec, path: str) -> Any:
    """The value at a dotted path of a validated run spec (KeyError when there is none)."""
    return get_dotted(run.model_dump(mode="json"), path)


def undefined(test: str, effect: str, n: dict[str, int], why: str) -> TestResult:
    """A test that cannot be computed: nan everywhere and the reason, so the prediction stays undecided."""
    nan = float("nan")
    return TestResult(test, nan, nan, nan, (nan, nan), effect, n, notes=[why])


def values(data: pd.DataFrame, condition: str | None = None, role: str = "y") -> np.ndarray:
    """The measured values of one condition (all conditions: None), ordered by seed."""
    sub = data[data.role == role]
    if condition is not None:
        sub = sub[sub.condition == condition]
    return sub.sort_values("seed", kind="stable").value.to_numpy(dtype=float)


def paired(data: pd.DataFrame, a: str, b: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Values of conditions a and b for the seeds measured in both, matched by seed."""
    ya = data[(data.condition == a) & (data.role == "y")].set_index("seed").value
    yb = data[(data.condition == b) & (data.role == "y")].set_index("seed").value
    seeds = sorted(set(ya.index) & set(yb.index))
    return ya.loc[seeds].to_numpy(float), yb.loc[seeds].to_numpy(float), [int(s) for s in seeds]


def frame(samples: dict[str, np.ndarray | list[float]]) -> pd.DataFrame:
    """The test table from plain samples {condition: values} (seeds 0..n-1): for tests and benchmarks."""
    import pandas as pd

    rows = [{"condition": c, "seed": i, "metric": "m", "role": "y", "x": math.nan, "value": float(v)}
            for c, vs in samples.items() for i, v in enumerate(vs)]
    return pd.DataFrame(rows, columns=DATA_COLUMNS)


def one_sided_p(t: float, dist, direction: str) -> float:
    """p for `direction` from a statistic `t` with null distribution `dist` (a frozen scipy distribution)."""
    if direction == "greater":
        return float(dist.sf(t))
    if direction == "less":
        return float(dist.cdf(t))
    return float(2 * dist.sf(abs(t)))
