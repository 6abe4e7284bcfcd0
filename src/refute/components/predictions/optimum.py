"""One number per seed from several conditions of a sweep: where along a swept parameter a metric is best.

"The optimal learning rate scales as width^-1" is a claim about the optimum, not about any one run.
`metric:` may name such an optimum:

    sweep: {model.params.width: [32, 64, 128], train.lr: [1.0e-3, 3.0e-3, 1.0e-2, 3.0e-2]}
    predictions:
      - kind: power_law
        metric: {of: val_loss, at: min, over: train.lr, interpolate: log_parabola}
        reduce: final
        x: {param: model.params.width}
        exponent: {low: -1.3, high: -0.7}

The conditions that differ only in `over` form a group (here: one group per width, named like the
conditions without their `lr=…` part: `width=32`, …). In each group and each seed, every member
run's metric is reduced as usual, and the group's value for that seed is the value of `over` at which
it is lowest (`at: min`) or highest (`at: max`): the grid point, or with `interpolate` the vertex of
a parabola through the best grid point and its two neighbours (in x, or in log x with
`log_parabola`), kept between those neighbours. The prediction then reads the groups as its
conditions: a trend or power law against another swept axis, a compare between two groups, a
threshold on one. A seed's optimum at the edge of the swept range is only a bound on the true one;
the test's notes count them.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from refute.registry import Params

if TYPE_CHECKING:
    import pandas as pd
    from refute.spec.schema import RunSpec


class Optimum(Params):
    of: str = Field(description="the logged (or probed) metric whose optimum is found, e.g. val_loss")
    at: Literal["min", "max"] = Field(description="min: where the metric is lowest; max: where it is highest")
    over: str = Field(description="the swept run-spec field whose best value is each seed's value, e.g. train.lr")
    interpolate: Literal["none", "parabola", "log_parabola"] = Field(
        "none", description="none: the best grid point; parabola / log_parabola: the vertex of a parabola through "
        "the best grid point and its neighbours, in x or in log x",
    )

    def label(self) -> str:
        return f"arg{self.at} {self.over} of {self.of}"


def over_value(spec: Optimum, run: RunSpec) -> Any:
    from refute.components.predictions import param_value

    return param_value(run, spec.over)


def _key(spec: Optimum, run: RunSpec) -> str:
    # Two conditions are in one group when their run specs agree on everything but `over`.
    from refute.dotted import set_dotted

    data = run.model_dump(mode="json")
    set_dotted(data, spec.over, None)
    return json.dumps(data, sort_keys=True)


def _stripped(spec: Optimum, name: str) -> str:
    leaf = spec.over.rsplit(".", 1)[-1]
    kept = [t for t in name.split("_") if not t.startswith((f"{leaf}=", f"{spec.over}="))]
    return "_".join(kept) or "default"


def groups(spec: Optimum, conditions: dict[str, RunSpec | None]) -> dict[str, list[str]]:
    """group name → its member conditions (valid ones only), named like the conditions without their
    `over` label; members whose names disagree are joined with '+'."""
    by_key: dict[str, list[str]] = {}
    for c, run in conditions.items():
        if run is not None:
            by_key.setdefault(_key(spec, run), []).append(c)
    out = {}
    for members in by_key.values():
        names = {_stripped(spec, m) for m in members}
        out[names.pop() if len(names) == 1 else "+".join(members)] = members
    return out


def check(spec: Optimum, conditions: dict[str, Any], used: list[str] | None = None) -> list[tuple[str, str]]:
    """Problems with the optimum across the hypothesis's conditions, as (field, message): `over` must be a
    number in every condition, and every group the prediction reads must sweep it over enough values."""
    issues = []
    for c, run in conditions.items():
        if run is None:
            continue
        try:
            v = over_value(spec, run)
        except (KeyError, ValueError, IndexError):
            return [("metric.over", f"condition {c!r} has no field {spec.over!r}")]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return [("metric.over", f"{spec.over} is {v!r} in condition {c!r}; the optimum is over a number")]
        if spec.interpolate == "log_parabola" and not v > 0:
            issues.append(("metric.interpolate", f"log_parabola needs {spec.over} > 0; it is {v!r} in condition {c!r}"))
    grouped = groups(spec, conditions)
    need = 2 if spec.interpolate == "none" else 3
    for g in used if used is not None else grouped:
        members = grouped.get(g, [])
        xs = {float(over_value(spec, conditions[m])) for m in members}
        if len(xs) < need:
            issues.append(("metric.over", f"group {g!r} has {len(xs)} value(s) of {spec.over} "
                                          f"({', '.join(members) or 'no condition'}); an optimum "
                                          f"{'interpolated ' if need == 3 else ''}over it needs at least {need}: "
                                          f"sweep it (sweep: {{{spec.over}: [...]}})"))
    return issues


def view(spec: Optimum, conditions: dict[str, Any]) -> dict[str, Any]:
    """The groups as the prediction sees its conditions: group name → one member's run spec (they agree on
    everything but `over`)."""
    return {g: conditions[ms[0]] for g, ms in groups(spec, conditions).items()}


def best(spec: Optimum, x: np.ndarray, y: np.ndarray) -> tuple[float, bool]:
    """The value of x at the optimum of y (nan with fewer than 2 finite points), and whether it is at an edge
    of the swept range (a bound on the true optimum)."""
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if len(np.unique(x)) < 2:
        return float("nan"), False
    i = int(np.argmin(y) if spec.at == "min" else np.argmax(y))
    if i == 0 or i == len(x) - 1:
        return float(x[i]), True
    if spec.interpolate == "none":
        return float(x[i]), False
    u = np.log10(x[i - 1:i + 2]) if spec.interpolate == "log_parabola" else x[i - 1:i + 2]
    a, b, _ = np.polyfit(u, y[i - 1:i + 2], 2)
    if (a > 0) != (spec.at == "min") or a == 0:
        return float(x[i]), False  # ties or a flat stretch: no vertex on the right side
    vertex = float(np.clip(-b / (2 * a), u[0], u[2]))
    return (10**vertex if spec.interpolate == "log_parabola" else vertex), False


def per_run(spec: Optimum, reduced: pd.DataFrame, members: dict[str, tuple[str, float | None]],
            conditions: dict[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    """Collapse reduced rows of member runs (one per member condition, seed and role) into one row per
    (group, seed, role); `members` maps member condition → (group, the group unit's x). Also notes on edges."""
    rows, edges, total = [], 0, 0
    grouped = reduced.assign(group=reduced.condition.map(lambda c: members[c][0]))
    for (g, seed, role), rows_g in grouped.groupby(["group", "seed", "role"], sort=True):
        xs = np.array([float(over_value(spec, conditions[c])) for c in rows_g.condition])
        value, edge = best(spec, xs, rows_g.value.to_numpy(float))
        total += 1
        edges += bool(edge and math.isfinite(value))
        ux = members[rows_g.condition.iloc[0]][1]
        rows.append({**rows_g.iloc[0].drop("group").to_dict(), "condition": g, "metric": spec.label(),
                     "x": math.nan if ux is None else float(ux), "value": value,
                     "censored": bool(rows_g.censored.any()), "failed": bool(rows_g.failed.any())})
    notes = [f"{edges} of {total} seed optima of {spec.of} lie at an edge of the swept {spec.over}: each is only a "
             "bound on the true optimum (widen the sweep)"] if edges else []
    import pandas as pd

    return pd.DataFrame(rows, columns=reduced.columns), notes


def conditions_read(pred, conditions: dict[str, Any]) -> list[str]:
    """The conditions whose runs a prediction reads (for an optimum: every member of the groups it tests)."""
    if isinstance(getattr(pred, "metric", None), Optimum):
        members = groups(pred.metric, conditions)
        return [c for g in pred.conditions_used(list(members)) for c in members[g]]
    return pred.conditions_used(list(conditions))
