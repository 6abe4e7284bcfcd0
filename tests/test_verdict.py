"""Verdict logic, case by case (see refute.components.predictions.outcome for the rules)."""

import pytest

from refute.components.predictions.outcome import (CONTRADICTED, HOLDS, INCONCLUSIVE, INVALID, REFUTED, SUPPORTED, UNDECIDED,
                                  Outcome, decide, judge, judge_interval)


@pytest.mark.parametrize(
    "direction, min_effect, p, est, ci, expected",
    [
        ("greater", 0.0, 0.01, 1.0, (0.5, 1.5), HOLDS),
        ("greater", 0.0, 0.30, 0.2, (-0.5, 0.9), UNDECIDED),
        ("greater", 0.0, 0.99, -1.0, (-1.5, -0.5), CONTRADICTED),  # credibly the wrong sign
        ("greater", 1.0, 0.01, 0.3, (0.1, 0.5), CONTRADICTED),  # real but smaller than δ
        ("greater", 1.0, 0.01, 0.8, (0.3, 1.3), UNDECIDED),  # significant, short of δ, CI reaches δ
        ("greater", 1.0, 0.01, 1.2, (0.9, 1.5), HOLDS),
        ("less", 300, 0.004, -900, (-1000, -550), HOLDS),
        ("less", 300, 0.004, -200, (-250, -100), CONTRADICTED),
        ("less", 0.0, 0.9, 0.5, (0.1, 0.9), CONTRADICTED),
        ("two-sided", 0.0, 0.01, -0.7, (-1.0, -0.4), HOLDS),
        ("two-sided", 0.5, 0.40, 0.1, (-0.2, 0.3), CONTRADICTED),  # equivalent to no effect within δ
        ("two-sided", 0.0, 0.40, 0.1, (-0.2, 0.3), UNDECIDED),
    ],
)
def test_judge(direction, min_effect, p, est, ci, expected):
    assert judge(direction, 0.05, min_effect, p, est, ci, n_min=5).status == expected


def test_too_few_runs_is_undecided_and_says_so():
    o = judge("greater", 0.05, 0.0, float("nan"), float("nan"), (float("nan"),) * 2, n_min=1)
    assert o.status == UNDECIDED and "n = 1" in o.reason


def o(status):
    return Outcome(status, "r", "w")


def test_decide():
    assert decide({"a": o(HOLDS), "b": o(HOLDS)}, [])[0] == SUPPORTED
    assert decide({"a": o(HOLDS), "b": o(UNDECIDED)}, [])[0] == INCONCLUSIVE
    assert decide({"a": o(UNDECIDED), "b": o(CONTRADICTED)}, [])[0] == REFUTED
    verdict, reasons = decide({"a": o(HOLDS)}, ["seed 3 diverged"])
    assert verdict == INVALID and "seed 3 diverged" in reasons[0]


@pytest.mark.parametrize(
    "low, high, p, est, ci, expected",
    [
        (-0.15, 0.15, 0.001, 0.02, (-0.05, 0.09), HOLDS),  # both one-sided tests reject
        (-0.15, 0.15, 0.30, 0.05, (-0.2, 0.3), UNDECIDED),  # CI straddles the margin
        (-0.15, 0.15, 0.99, 0.5, (0.3, 0.7), CONTRADICTED),  # credibly above the margin
        (-0.15, 0.15, 0.99, -0.5, (-0.7, -0.3), CONTRADICTED),  # credibly below it
        (float("-inf"), 0.0, 0.01, -0.4, (-0.6, -0.2), HOLDS),  # an open end: one one-sided test
        (float("-inf"), 0.0, 0.9, 0.4, (0.1, 0.7), CONTRADICTED),
    ],
)
def test_judge_interval(low, high, p, est, ci, expected):
    assert judge_interval(low, high, 0.05, p, est, ci, n_min=5).status == expected


def test_contradiction_reasons_name_the_ci_level_used():
    o = judge("greater", 0.05, 0.0, 0.99, -1.0, (-1.5, -0.5), n_min=5, level=1 - 0.05 / 3)
    assert o.status == CONTRADICTED and "98.33% CI" in o.reason


def test_failed_runs_counted_against_do_not_invalidate():
    # analyse passes no failures to decide() when failed runs count against the predictions.
    assert decide({"a": o(HOLDS)}, [])[0] == SUPPORTED
