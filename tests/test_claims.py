"""Claims beyond one effect of one condition: no trend, ratios, relative equivalence of two conditions,
optima across a sweep, representations compared across seeds and layers. Each on data with a known answer."""

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter, ValidationError

from refute.components.predictions import PREDICTIONS, PredictionSpec, frame
from refute.components.predictions.outcome import CONTRADICTED, HOLDS, UNDECIDED


def pred(**kw):
    base = {"id": "p", "metric": "m", "reduce": "final", "alpha": 0.05}
    return TypeAdapter(PredictionSpec).validate_python({**base, **kw})


def run(p, data):
    data = frame(data) if isinstance(data, dict) else data
    return PREDICTIONS.get(p.kind).impl(p, data)


def status(p, data):
    r = run(p, data)
    return p.outcome(r, r.p, r.ci).status


def sweep_table(slope: float, seeds: int = 8, xs=(0.001, 0.01, 0.1), noise: float = 0.05, seed_sd: float = 0.3):
    g = np.random.default_rng(1)
    rows = []
    for s in range(seeds):
        offset = g.normal(0, seed_sd)
        for x in xs:
            rows.append({"condition": f"lr={x}", "seed": s, "metric": "m", "role": "y", "x": x,
                         "value": 1.0 + slope * np.log10(x) + offset + g.normal(0, noise)})
    return pd.DataFrame(rows)


# --- no trend --------------------------------------------------------------------------------------

def flat(**kw):
    return pred(kind="no_trend", x={"param": "train.lr"}, log_x=True, **kw)


@pytest.mark.parametrize("test", ["ols", "mixed"])
def test_a_flat_slope_is_accepted_as_no_trend(test):
    p = flat(test=test, margin=0.1)
    r = run(p, sweep_table(slope=0.0))
    assert r.extra["margin"] == 0.1 and -0.1 < r.estimate < 0.1
    assert r.p == max(r.extra["p_lower"], r.extra["p_upper"]) and r.p < 0.01
    assert status(p, sweep_table(slope=0.0)) == HOLDS


@pytest.mark.parametrize("test", ["ols", "mixed"])
def test_a_real_slope_contradicts_no_trend(test):
    p = flat(test=test, margin=0.1)
    assert status(p, sweep_table(slope=0.5)) == CONTRADICTED


def test_no_trend_by_spearman_rho():
    # Independent points (one seed per x): ρ near 0 within ±0.5 holds; a monotone trend contradicts it.
    g = np.random.default_rng(4)
    xs = np.repeat([1.0, 2.0, 3.0, 4.0, 5.0], 30)
    none = pd.DataFrame({"condition": "c", "seed": np.arange(xs.size), "metric": "m", "role": "y", "x": xs,
                         "value": g.normal(0, 1, xs.size)})
    p = pred(kind="no_trend", x={"param": "train.lr"}, test="spearman", margin=0.3)
    assert abs(run(p, none).estimate) < 0.2 and status(p, none) == HOLDS
    rising = none.assign(value=xs + g.normal(0, 0.5, xs.size))
    assert status(p, rising) == CONTRADICTED


def test_no_trend_is_undecided_when_the_slope_is_too_noisy():
    assert status(flat(test="ols", margin=0.1), sweep_table(slope=0.0, seeds=3, noise=1.0)) == UNDECIDED


def test_no_trend_rejects_a_rho_margin_of_one_or_more():
    with pytest.raises(ValidationError, match="0 < margin < 1"):
        flat(test="spearman", margin=1.5)


# --- ratios ----------------------------------------------------------------------------------------

g = np.random.default_rng(7)
STEPS = 1000 * np.exp(g.normal(0, 0.2, 10))          # clean labels: steps to fit
SLOW = 3 * 1000 * np.exp(g.normal(0, 0.2, 10))       # random labels: 3× the steps


def ratio(**kw):
    return pred(**{"kind": "compare", "conditions": ["random", "clean"], "scale": "ratio", **kw})


@pytest.mark.parametrize("test", ["welch", "mannwhitney", "paired_t", "wilcoxon"])
def test_a_planted_threefold_ratio_is_found_and_reported_as_a_ratio(test):
    p = ratio(test=test, direction="greater", min_ratio=2.0)
    r = run(p, {"random": SLOW, "clean": STEPS})
    assert 2.4 < r.estimate < 3.6 and r.ci[0] < 3.0 < r.ci[1]  # back-transformed: a ratio, not a log
    assert r.extra["log_ratio"] == pytest.approx(np.log(r.estimate))
    assert "ratio random / clean" in r.effect and "ln values" in r.test
    out = p.outcome(r, r.p, r.ci)
    assert out.status == HOLDS and "at least 2" in out.reason


def test_a_ratio_short_of_the_smallest_ratio_of_interest_is_contradicted():
    p = ratio(test="welch", direction="greater", min_ratio=5.0)
    out = status(p, {"random": SLOW, "clean": STEPS})
    assert out == CONTRADICTED


def test_the_ratio_test_is_the_difference_test_on_logs():
    r = run(ratio(test="welch", direction="greater"), {"random": SLOW, "clean": STEPS})
    d = run(pred(kind="compare", conditions=["random", "clean"], test="welch", direction="greater"),
            {"random": np.log(SLOW), "clean": np.log(STEPS)})
    assert r.p == pytest.approx(d.p) and r.estimate == pytest.approx(np.exp(d.estimate))


def test_a_ratio_of_non_positive_values_is_undecided_with_the_reason():
    r = run(ratio(test="welch", direction="greater"), {"random": SLOW, "clean": np.r_[STEPS[:-1], 0.0]})
    assert np.isnan(r.p) and "positive" in r.notes[0]


@pytest.mark.parametrize("bad, message", [
    ({"min_effect": 1.0}, "min_ratio"),
    ({"scale": "difference", "min_ratio": 2.0}, "scale: ratio"),
    ({"min_ratio": 0.5}, "greater than or equal to 1"),
])
def test_ratio_parameters_are_checked(bad, message):
    with pytest.raises(ValidationError, match=message):
        ratio(test="welch", direction="greater", **bad)


def test_equivalence_on_the_ratio_scale():
    same = {"a": 1000 * np.exp(g.normal(0, 0.05, 12)), "b": 1000 * np.exp(g.normal(0, 0.05, 12))}
    p = pred(kind="equivalence", conditions=["a", "b"], scale="ratio", margin=0.1)
    r = run(p, same)
    assert 0.95 < r.estimate < 1.05 and r.extra["margin"] == 0.1
    assert status(p, same) == HOLDS
    assert status(p, {"a": same["a"] * 3, "b": same["b"]}) == CONTRADICTED


# --- equivalence of two conditions, relative margin ------------------------------------------------

@pytest.mark.parametrize("test", ["t", "paired_t"])
def test_relative_equivalence_of_two_conditions(test):
    b = 200 + g.normal(0, 4, 12)
    p = pred(kind="equivalence", conditions=["a", "b"], relative=True, margin=0.1, test=test)
    same = {"a": b * 1.02 + g.normal(0, 2, 12), "b": b}
    r = run(p, same)
    assert r.estimate == pytest.approx(same["a"].mean() / b.mean() - 1)
    assert r.ci[0] < r.estimate < r.ci[1] and r.ci[1] - r.ci[0] < 0.1
    assert status(p, same) == HOLDS
    assert status(p, {"a": b * 1.3, "b": b}) == CONTRADICTED


def test_relative_equivalence_matches_a_tost_on_b_scaled_values_when_b_is_known():
    # With b constant the test of a − θ·b is a one-sample t-test of a against θ·b.
    from statsmodels.stats.weightstats import DescrStatsW

    a = 100 + g.normal(0, 3, 10)
    r = run(pred(kind="equivalence", conditions=["a", "b"], relative=True, margin=0.05, test="paired_t"),
            {"a": a, "b": np.r_[np.full(9, 100.0), 100.0 + 1e-9]})
    assert r.p == pytest.approx(DescrStatsW(a).ttost_mean(95.0, 105.0)[0], rel=1e-3)


@pytest.mark.parametrize("bad, message", [
    ({"conditions": ["a", "b"], "relative": True, "margin": 1.5}, "0 < margin < 1"),
    ({"conditions": ["a", "b"], "relative": True, "scale": "ratio", "margin": 0.1}, "scale: ratio"),
    ({"conditions": ["a"], "value": 1.0, "scale": "ratio", "margin": 0.1}, "scale: ratio"),
])
def test_relative_and_ratio_equivalence_reject_ill_posed_claims(bad, message):
    with pytest.raises(ValidationError, match=message):
        pred(kind="equivalence", **bad)
