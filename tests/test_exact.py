"""Runs with no spread (a metric at its ceiling): exact tests, whose p is bounded by the number of runs.

A t-test on constant values reports p = 0 and a CI of no width, so two runs at 1.0 would make "the mean is
above 0.95" hold. These are the known answers an exact test gives instead."""

import math

import numpy as np
import pytest

from refute.components.predictions.outcome import HOLDS, UNDECIDED
from test_stats_kinds import pred, run, status


@pytest.mark.parametrize("seeds, expected", [(2, UNDECIDED), (5, HOLDS), (8, HOLDS)])
def test_runs_at_a_ceiling_decide_a_threshold_only_when_there_are_enough_of_them(seeds, expected):
    p = pred(kind="threshold", condition="a", threshold=0.95, direction="greater")
    r = run(p, {"a": [1.0] * seeds})
    assert r.p == pytest.approx(0.5**seeds) and math.isfinite(r.statistic) and r.p > 0
    assert status(p, {"a": [1.0] * seeds}) == expected
    assert "exact sign test" in r.test and "no variance" in r.notes[0]


def test_the_ci_of_constant_runs_is_unbounded_below_the_confidence_their_number_gives():
    p = pred(kind="threshold", condition="a", threshold=0.95, direction="greater")
    assert run(p, {"a": [1.0] * 2}).ci == (-math.inf, math.inf)  # 1 − 2/4 = 50% < 95%
    assert run(p, {"a": [1.0] * 8}).ci == pytest.approx((0.05, 0.05))  # 1 − 2/256 ≥ 95%


def test_constant_runs_on_the_wrong_side_never_hold():
    p = pred(kind="threshold", condition="a", threshold=0.95, direction="greater")
    assert run(p, {"a": [0.9] * 8}).p == 1.0


@pytest.mark.parametrize("n, expected_p", [(3, 1 / 20), (5, 1 / 252)])
def test_two_constant_groups_are_compared_by_an_exact_permutation_test(n, expected_p):
    p = pred(kind="compare", conditions=["a", "b"], test="welch", direction="greater")
    r = run(p, {"a": [1.0] * n, "b": [0.5] * n})
    assert r.p == pytest.approx(expected_p) and r.estimate == pytest.approx(0.5)
    assert status(p, {"a": [1.0] * n, "b": [0.5] * n}) == (UNDECIDED if n == 3 else HOLDS)


def test_a_constant_paired_difference_is_a_sign_test():
    p = pred(kind="compare", conditions=["a", "b"], test="paired_t", direction="greater")
    r = run(p, {"a": np.arange(4) + 1.0, "b": np.arange(4) + 0.0})
    assert r.p == pytest.approx(1 / 16) and r.estimate == 1.0


@pytest.mark.parametrize("seeds, expected", [(2, UNDECIDED), (8, HOLDS)])
def test_equivalence_of_constant_runs_needs_enough_runs(seeds, expected):
    p = pred(kind="equivalence", conditions=["a"], value=1.0, margin=0.05)
    r = run(p, {"a": [1.01] * seeds})
    assert r.p == pytest.approx(0.5**seeds) and r.p > 0
    assert status(p, {"a": [1.01] * seeds}) == expected
