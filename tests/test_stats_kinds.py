"""Prediction kinds: each test finds a planted effect and finds none where there is none."""

import numpy as np
import pytest
from pydantic import TypeAdapter

from refute.registry import PREDICTIONS
from refute.spec.schema import component_union_by_kind


def pred(**kw):
    base = {"id": "p", "metric": "m", "reduce": "final", "alpha": 0.05}
    return TypeAdapter(component_union_by_kind()).validate_python({**base, **kw})


def run(p, samples):
    return PREDICTIONS.get(p.kind).impl(p, samples)


rng = np.random.default_rng(0)
A = rng.normal(1.0, 0.5, 20)
B = rng.normal(0.0, 0.5, 20)
B2 = rng.normal(1.0, 0.5, 20)


@pytest.mark.parametrize("test", ["welch", "mannwhitney"])
def test_compare_detects_a_planted_shift(test):
    r = run(pred(kind="compare", conditions=["a", "b"], test=test, direction="greater"), {"a": A, "b": B})
    assert r.p < 0.001
    assert 0.6 < r.estimate < 1.4 and r.ci[0] < r.estimate < r.ci[1]
    assert r.n == {"a": 20, "b": 20}


@pytest.mark.parametrize("test", ["welch", "mannwhitney"])
def test_compare_finds_nothing_without_an_effect(test):
    r = run(pred(kind="compare", conditions=["a", "b"], test=test, direction="two-sided"), {"a": A, "b": B2})
    assert r.p > 0.05 and r.ci[0] < 0 < r.ci[1]


def test_welch_matches_scipy_and_its_ci():
    from scipy import stats

    r = run(pred(kind="compare", conditions=["a", "b"], test="welch", direction="greater"), {"a": A, "b": B})
    ref = stats.ttest_ind(A, B, equal_var=False, alternative="greater")
    assert r.p == pytest.approx(ref.pvalue) and r.statistic == pytest.approx(ref.statistic)
    assert r.estimate == pytest.approx(A.mean() - B.mean())


def test_welch_with_constant_groups_is_exact():
    r = run(pred(kind="compare", conditions=["a", "b"], test="welch", direction="less"),
            {"a": np.full(4, 1.0), "b": np.full(4, 3.0)})
    assert r.p == 0.0 and r.estimate == -2.0 and r.ci == (-2.0, -2.0)


@pytest.mark.parametrize("test", ["t", "wilcoxon"])
def test_threshold_known_answers(test):
    above = run(pred(kind="threshold", condition="a", threshold=0.0, test=test, direction="greater"), {"a": A})
    assert above.p < 0.001 and above.estimate > 0.5
    none = run(pred(kind="threshold", condition="a", threshold=1.0, test=test, direction="two-sided"), {"a": B2})
    assert none.p > 0.05 and none.ci[0] < 0 < none.ci[1]
