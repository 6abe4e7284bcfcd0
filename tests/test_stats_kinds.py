"""Prediction kinds: each test finds a planted effect and finds none where there is none."""

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter, ValidationError

from refute.components.predictions import PREDICTIONS
from refute.components.predictions import PredictionSpec
from refute.components.predictions import frame
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


rng = np.random.default_rng(0)
A = rng.normal(1.0, 0.5, 20)
B = rng.normal(0.0, 0.5, 20)
B2 = rng.normal(1.0, 0.5, 20)


@pytest.mark.parametrize("test", ["welch", "mannwhitney", "paired_t", "wilcoxon"])
def test_compare_detects_a_planted_shift(test):
    r = run(pred(kind="compare", conditions=["a", "b"], test=test, direction="greater"), {"a": A, "b": B})
    assert r.p < 0.001
    assert 0.6 < r.estimate < 1.4 and r.ci[0] < r.estimate < r.ci[1]
    assert sum(r.n.values()) in (20, 40)


@pytest.mark.parametrize("test", ["welch", "mannwhitney", "paired_t", "wilcoxon"])
def test_compare_finds_nothing_without_an_effect(test):
    r = run(pred(kind="compare", conditions=["a", "b"], test=test, direction="two-sided"), {"a": A, "b": B2})
    assert r.p > 0.05 and r.ci[0] < 0 < r.ci[1]


def test_pairing_by_seed_removes_the_seed_to_seed_spread():
    # Each seed's value is its own large offset plus a small, consistent +0.1 in condition a.
    offset = rng.normal(0, 5, 8)
    data = {"a": offset + 0.1 + rng.normal(0, 0.01, 8), "b": offset}
    assert run(pred(kind="compare", conditions=["a", "b"], test="welch", direction="greater"), data).p > 0.3
    paired = run(pred(kind="compare", conditions=["a", "b"], test="paired_t", direction="greater"), data)
    assert paired.p < 1e-6 and paired.estimate == pytest.approx(0.1, abs=0.02) and paired.n == {"pairs": 8}


def test_paired_tests_use_only_seeds_measured_in_both():
    data = frame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 1.4, 2.6]})
    r = run(pred(kind="compare", conditions=["a", "b"], test="paired_t", direction="greater"), data)
    assert r.n == {"pairs": 3}


def test_welch_matches_scipy_and_its_ci():
    from scipy import stats

    r = run(pred(kind="compare", conditions=["a", "b"], test="welch", direction="greater"), {"a": A, "b": B})
    ref = stats.ttest_ind(A, B, equal_var=False, alternative="greater")
    assert r.p == pytest.approx(ref.pvalue) and r.statistic == pytest.approx(ref.statistic)
    assert r.estimate == pytest.approx(A.mean() - B.mean())


def test_welch_with_constant_groups_is_an_exact_permutation_test():
    # Not p = 0 (an infinite t): 4 runs against 4 are ordered so by chance once in C(8, 4) = 70.
    r = run(pred(kind="compare", conditions=["a", "b"], test="welch", direction="less"),
            {"a": np.full(4, 1.0), "b": np.full(4, 3.0)})
    assert r.p == pytest.approx(1 / 70) and r.estimate == -2.0 and r.ci == (-2.0, -2.0)


@pytest.mark.parametrize("test", ["t", "wilcoxon"])
def test_threshold_known_answers(test):
    above = run(pred(kind="threshold", condition="a", threshold=0.0, test=test, direction="greater"), {"a": A})
    assert above.p < 0.001 and above.estimate > 0.5
    none = run(pred(kind="threshold", condition="a", threshold=1.0, test=test, direction="two-sided"), {"a": B2})
    assert none.p > 0.05 and none.ci[0] < 0 < none.ci[1]


# --- equivalence -----------------------------------------------------------------------------------

def eq(**kw):
    return pred(kind="equivalence", **kw)


def test_equivalence_to_a_value_holds_when_every_condition_is_within_the_margin():
    data = {"lr1": rng.normal(1.0, 0.05, 10), "lr2": rng.normal(0.98, 0.05, 10)}
    p = eq(conditions=["lr1", "lr2"], value=1.0, margin=0.15, relative=True)
    r = run(p, data)
    assert r.extra["margin"] == pytest.approx(0.15) and set(r.n) == {"lr1", "lr2"}
    assert r.p == pytest.approx(max(r.extra["p [lr1]"], r.extra["p [lr2]"]))
    assert status(p, data) == HOLDS


def test_equivalence_is_contradicted_when_one_condition_is_credibly_outside():
    data = {"lr1": rng.normal(1.0, 0.05, 10), "lr2": rng.normal(1.5, 0.05, 10)}
    p = eq(conditions=["lr1", "lr2"], value=1.0, margin=0.15, relative=True)
    r = run(p, data)
    assert "lr2" in r.effect and r.estimate == pytest.approx(0.5, abs=0.06)
    assert status(p, data) == CONTRADICTED


def test_equivalence_is_undecided_when_the_data_are_too_noisy():
    data = {"a": [0.6, 1.5, 0.8, 1.3]}  # mean 1.05, but a CI far wider than the margin
    assert status(eq(conditions=["a"], value=1.0, margin=0.1), data) == UNDECIDED


@pytest.mark.parametrize("test", ["t", "paired_t"])
def test_no_difference_between_two_conditions(test):
    same = {"a": rng.normal(2.0, 0.1, 12), "b": rng.normal(2.0, 0.1, 12)}
    apart = {"a": rng.normal(2.0, 0.1, 12), "b": rng.normal(3.0, 0.1, 12)}
    p = eq(conditions=["a", "b"], margin=0.2, test=test)
    assert status(p, same) == HOLDS
    assert status(p, apart) == CONTRADICTED


def test_tost_matches_statsmodels():
    from statsmodels.stats.weightstats import ttost_ind

    a, b = rng.normal(0, 1, 15), rng.normal(0.2, 1, 15)
    r = run(eq(conditions=["a", "b"], margin=0.8), {"a": a, "b": b})
    assert r.p == pytest.approx(ttost_ind(a, b, -0.8, 0.8, usevar="unequal")[0])


@pytest.mark.parametrize("bad, message", [
    ({"conditions": ["a", "b", "c"], "margin": 0.1}, "exactly two conditions"),
    ({"conditions": ["a"], "margin": 0.1, "relative": True}, "relative"),
    ({"conditions": ["a"], "value": 1.0, "margin": 0.1, "test": "paired_t"}, "paired_t"),
    ({"conditions": ["a"], "value": 1.0, "margin": -0.1}, "greater than 0"),
])
def test_equivalence_rejects_an_ill_posed_claim(bad, message):
    with pytest.raises(ValidationError, match=message):
        eq(**bad)


# --- trend -----------------------------------------------------------------------------------------

def sweep_table(slope: float, seeds: int = 6, xs=(0.01, 0.02, 0.04), noise: float = 0.05, seed_sd: float = 0.0):
    g = np.random.default_rng(1)
    rows = []
    for s in range(seeds):
        offset = g.normal(0, seed_sd)
        for x in xs:
            rows.append({"condition": f"x={x}", "seed": s, "metric": "m", "role": "y", "x": x,
                         "value": 1.0 + slope * np.log10(x) + offset + g.normal(0, noise)})
    return pd.DataFrame(rows)


def trend(**kw):
    return pred(kind="trend", x={"param": "train.lr"}, **kw)


@pytest.mark.parametrize("test", ["spearman", "ols", "mixed"])
def test_trend_detects_a_planted_slope(test):
    data = sweep_table(slope=0.5, seed_sd=0.3)
    p = trend(test=test, direction="greater", log_x=True)
    r = run(p, data)
    assert r.n == {"points": 18, "seeds": 6, "levels": 3}
    assert r.p < 0.01 and status(p, data) == HOLDS
    if test != "spearman":
        assert r.ci[0] < 0.5 < r.ci[1]  # slope per decade of x


@pytest.mark.parametrize("test", ["spearman", "ols", "mixed"])
def test_trend_finds_nothing_without_a_slope(test):
    data = sweep_table(slope=0.0, seed_sd=0.3)
    r = run(trend(test=test, direction="two-sided", log_x=True), data)
    assert r.p > 0.05 and r.ci[0] < 0 < r.ci[1]


def test_a_trend_in_the_wrong_direction_is_contradicted():
    assert status(trend(test="ols", direction="greater", log_x=True), sweep_table(slope=-0.5)) == CONTRADICTED


def test_mixed_model_separates_seed_offsets_from_the_slope():
    # Large seed offsets hide a small slope from OLS on independent points, not from the mixed model.
    data = sweep_table(slope=0.05, seeds=8, noise=0.01, seed_sd=1.0)
    mixed = run(trend(test="mixed", direction="greater", log_x=True), data)
    assert mixed.p < 1e-4 and mixed.extra["seed_variance"] > 0.1
    assert mixed.ci[0] < 0.05 < mixed.ci[1]


def test_trend_over_metrics_within_runs():
    # Deep-linear style: per-mode half-strength steps, smaller for larger singular values.
    g = np.random.default_rng(2)
    svs = {"mode0_t": 3.0, "mode1_t": 2.0, "mode2_t": 1.0}
    rows = [{"condition": "default", "seed": s, "metric": m, "role": "y", "x": sv,
             "value": 100 / sv + g.normal(0, 3)} for s in range(5) for m, sv in svs.items()]
    p = pred(kind="trend", metric=None, x={"metrics": svs}, test="mixed", direction="less")
    r = run(p, pd.DataFrame(rows))
    assert r.estimate < 0 and status(p, pd.DataFrame(rows)) == HOLDS
    units = p.units({"default": object()})
    assert {(u.metric, u.x) for u in units} == set(svs.items())


def test_trend_with_a_single_level_cannot_decide():
    data = sweep_table(slope=0.5, xs=(0.01,))
    assert status(trend(test="ols", direction="greater"), data) == UNDECIDED


# --- power law -------------------------------------------------------------------------------------

def scaling_table(exponent: float, seeds: int = 5, widths=(16, 32, 64, 128), noise: float = 0.05):
    g = np.random.default_rng(3)
    return pd.DataFrame([{"condition": f"w={w}", "seed": s, "metric": "m", "role": "y", "x": float(w),
                          "value": 3.0 * w**exponent * np.exp(g.normal(0, noise))}
                         for s in range(seeds) for w in widths])


def power_law(**kw):
    return pred(kind="power_law", x={"param": "model.params.width"}, **kw)


@pytest.mark.parametrize("test", ["ols", "mixed"])
def test_power_law_recovers_the_exponent(test):
    p = power_law(exponent={"low": -0.6, "high": -0.4}, test=test)
    r = run(p, scaling_table(-0.5))
    assert r.estimate == pytest.approx(-0.5, abs=0.03) and r.ci[0] < -0.5 < r.ci[1]
    assert status(p, scaling_table(-0.5)) == HOLDS


def test_power_law_outside_the_range_is_contradicted():
    assert status(power_law(exponent={"low": -0.6, "high": -0.4}), scaling_table(-1.0)) == CONTRADICTED


def test_power_law_with_one_open_end_is_a_one_sided_test():
    p = power_law(exponent={"high": 0.0})  # "the loss falls with width"
    assert status(p, scaling_table(-0.3)) == HOLDS
    assert status(p, scaling_table(0.3)) == CONTRADICTED
    flat = run(p, scaling_table(0.0))
    assert flat.ci[0] < 0 < flat.ci[1] and flat.extra["p_lower"] == 0.0


def test_power_law_refuses_non_positive_values():
    data = scaling_table(-0.5)
    data.loc[0, "value"] = 0.0
    r = run(power_law(exponent={"low": -1, "high": 0}), data)
    assert np.isnan(r.p) and "≤ 0" in r.notes[0]


def test_exponent_range_needs_an_end():
    with pytest.raises(ValidationError, match="low, high or both"):
        power_law(exponent={})


# --- correlation -----------------------------------------------------------------------------------

def pairs(r: float, n: int = 30):
    g = np.random.default_rng(4)
    x = g.normal(size=n)
    y = r * x + np.sqrt(1 - r**2) * g.normal(size=n)
    rows = [{"condition": "c", "seed": i, "metric": "y", "role": "y", "x": np.nan, "value": y[i]} for i in range(n)]
    rows += [{"condition": "c", "seed": i, "metric": "x", "role": "x", "x": np.nan, "value": x[i]} for i in range(n)]
    return pd.DataFrame(rows)


def corr(**kw):
    return pred(kind="correlation", x={"metric": "x", "reduce": "final"}, **kw)


@pytest.mark.parametrize("test", ["pearson", "spearman"])
def test_correlation_known_answers(test):
    strong = run(corr(test=test, direction="greater"), pairs(0.8))
    assert strong.p < 1e-4 and strong.n == {"pairs": 30} and strong.ci[0] < strong.estimate < strong.ci[1]
    assert 0.6 < strong.estimate < 0.95
    none = run(corr(test=test, direction="two-sided"), pairs(0.0))
    assert none.p > 0.05 and none.ci[0] < 0 < none.ci[1]


def test_pearson_ci_matches_scipy():
    from scipy import stats

    d = pairs(0.5)
    r = run(corr(test="pearson", direction="greater"), d)
    x, y = d[d.role == "x"].value.to_numpy(), d[d.role == "y"].value.to_numpy()
    ref = stats.pearsonr(x, y).confidence_interval(0.95)
    assert r.ci == pytest.approx((ref.low, ref.high))


def test_correlation_pairs_runs_by_condition_and_seed():
    d = pairs(0.8)
    d = d[~((d.role == "x") & (d.seed < 5))]  # five runs lack the other quantity
    assert run(corr(test="pearson", direction="greater"), d).n == {"pairs": 25}


# --- proportion ------------------------------------------------------------------------------------

def prop(**kw):
    return pred(kind="proportion", conditions=["a"], **kw)


def test_proportion_is_an_exact_binomial_test():
    from scipy import stats

    values = {"a": [0.99] * 18 + [0.2, 0.3]}  # 18 of 20 seeds reach 95%
    p = prop(meets={"above": 0.95}, p0=0.5, direction="greater")
    r = run(p, values)
    assert r.statistic == 18 and r.estimate == pytest.approx(0.4)
    assert r.p == pytest.approx(stats.binomtest(18, 20, 0.5, alternative="greater").pvalue)
    assert status(p, values) == HOLDS


def test_proportion_without_an_effect_is_not_significant():
    values = {"a": [1.0] * 10 + [0.0] * 10}
    r = run(prop(meets={"above": 0.5}, p0=0.5, direction="two-sided"), values)
    assert r.p == 1.0 and r.ci[0] < 0 < r.ci[1]


def test_proportion_below_and_contradiction():
    values = {"a": [0.1] * 2 + [0.9] * 18}  # only 2 of 20 below 0.5
    assert status(prop(meets={"below": 0.5}, p0=0.5, direction="greater"), values) == CONTRADICTED


def test_meets_needs_exactly_one_side():
    with pytest.raises(ValidationError, match="exactly one"):
        prop(meets={"above": 1, "below": 0}, p0=0.5, direction="greater")


def test_least_favourable_values_rank_a_failed_run_against_the_claim():
    from refute.components.predictions import Unit

    grows = pred(kind="compare", conditions=["a", "b"], test="mannwhitney", direction="greater")
    assert grows.least_favourable(Unit("a", "m", None)) == -np.inf
    assert grows.least_favourable(Unit("b", "m", None)) == np.inf
    assert pred(kind="compare", conditions=["a", "b"], test="welch", direction="greater").least_favourable(
        Unit("a", "m", None)) is None  # a mean cannot hold an infinite value
    most = prop(meets={"above": 0.95}, p0=0.5, direction="greater")
    r = run(most, frame({"a": [0.99] * 8 + [most.least_favourable(Unit("a", "m", None))] * 2}))
    assert r.extra["successes"] == 8 and r.n == {"runs": 10}
