"""A per-run statistic across several metrics of the run: known answers, and use in a hypothesis."""

import math

import numpy as np
import pandas as pd
import pytest

from conftest import write_yaml
from refute.spec.errors import SpecError
from refute.spec.loader import load_hypothesis
from refute.components.predictions.across_metrics import AcrossMetrics, per_run, statistic


def test_statistics_of_known_points():
    x = np.array([4.0, 2.0, 1.0, 0.5])
    assert statistic("spearman", x, 10 / x) == pytest.approx(-1.0)
    assert statistic("slope", x, 3 * x + 1) == pytest.approx(3.0)
    assert statistic("loglog_slope", x, 7 * x**-1.0) == pytest.approx(-1.0)
    assert math.isnan(statistic("spearman", x, np.ones(4)))  # all tied: no ordering to measure
    assert statistic("loglog_slope", x, np.ones(4)) == 0.0  # no dependence on x at all
    assert math.isnan(statistic("slope", x[:1], x[:1]))


def test_reduced_rows_collapse_to_one_value_per_run():
    spec = AcrossMetrics(across={"m0": 4.0, "m1": 2.0, "m2": 1.0}, statistic="loglog_slope")
    rows = pd.DataFrame([
        {"prediction": "p", "condition": c, "seed": s, "metric": m, "role": "y", "x": x, "value": v,
         "censored": c == "b" and m == "m2", "failed": False}
        for c, power in (("a", -1.0), ("b", 0.0)) for s in (0, 1)
        for m, x in spec.across.items() for v in [5 * x**power]
    ])
    out = per_run(spec, rows)
    assert list(out.columns) == list(rows.columns) and len(out) == 4
    assert out.set_index(["condition", "seed"]).value.to_dict() == pytest.approx(
        {("a", 0): -1.0, ("a", 1): -1.0, ("b", 0): 0.0, ("b", 1): 0.0})
    assert out[out.condition == "b"].censored.all() and not out[out.condition == "a"].censored.any()


def test_a_hypothesis_names_the_metrics_it_relates(tmp_path, tiny):
    tiny["predictions"][0]["metric"] = {"across": {"train_loss": 1.0, "val_loss": 2.0}, "statistic": "slope"}
    assert load_hypothesis(write_yaml(tmp_path / "ok.yaml", tiny)).hypothesis.predictions[0].metric.statistic == "slope"
    tiny["predictions"][0]["metric"] = {"across": {"train_loss": 1.0, "val_los": 2.0}, "statistic": "slope"}
    with pytest.raises(SpecError, match="predictions.0.metric.across: metric 'val_los' is never logged"):
        load_hypothesis(write_yaml(tmp_path / "bad.yaml", tiny))
