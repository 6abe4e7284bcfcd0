"""Tests for runs with no spread, where a t statistic is infinite and its p-value 0.

When every run gives the same value (a metric at its ceiling: train accuracy 1.0 in every seed), a t-test
reports p = 0 and a CI of no width, so two runs at 1.0 would "prove" a mean above 0.95. What such runs show
is only on which side each one lies, and that is what these exact tests use:

- one sample, or per-seed differences: the sign test. Under "no effect" each run lies on either side with
  probability ½, so all n on the predicted side has p = 1/2ⁿ (two-sided: twice that);
- two groups, each constant: the permutation test. Every run of a above every run of b is one of
  C(n_a + n_b, n_a) equally likely orderings: p = 1/C(n_a + n_b, n_a);
- equivalence: each of the two one-sided tests is the exact test above, against −margin and +margin.

Their p-values are bounded below by the number of runs (`floor`), so two runs at a ceiling decide nothing
and eight can. The CI is the distribution-free one that matches the test (the order statistics [min, max],
which cover with probability 1 − 2·floor): the common value when that reaches the CI's level, unbounded
when the runs are too few to give that confidence.
"""

from __future__ import annotations

import math

import numpy as np

from refute.components.predictions import TestResult

NOTE = ("no spread across runs (every value is the same): an exact {} test, whose p cannot fall below {:.3g} "
        "with these runs")


def constant(x: np.ndarray) -> bool:
    """True when every value is the same (to rounding: a mean of equal floats may differ in its last bit)."""
    return len(x) > 0 and bool(np.ptp(x) <= 1e-12 * max(1.0, float(np.max(np.abs(x)))))


def sign_floor(runs: int) -> float:
    """The smallest one-sided p of a sign test on `runs` runs: 1/2ⁿ."""
    return 0.5**runs


def permutation_floor(n_a: int, n_b: int) -> float:
    """The smallest one-sided p of a permutation test of two groups: 1/C(n_a + n_b, n_a)."""
    return 1 / math.comb(n_a + n_b, n_a)


def p_value(est: float, direction: str, floor: float) -> float:
    """p of `direction` when every run lies on the side of `est` (floor: the chance of that under no effect)."""
    if est == 0:
        return 1.0
    if direction == "two-sided":
        return min(1.0, 2 * floor)
    return floor if (est > 0) == (direction == "greater") else 1.0


def interval(est: float, floor: float, level: float) -> tuple[float, float]:
    return (est, est) if 1 - 2 * floor >= level else (-math.inf, math.inf)


def one_sample(est: float, runs: int, direction: str, level: float, effect: str, n: dict[str, int]) -> TestResult:
    """Every one of `runs` values (or per-seed differences) minus the reference equals `est`."""
    floor = sign_floor(runs)
    # The statistic is the sign test's: how many runs lie above the reference.
    return TestResult("exact sign test", float(runs if est > 0 else 0), p_value(est, direction, floor), est,
                      interval(est, floor, level), effect, n, {"exact_p_floor": floor},
                      notes=[NOTE.format("sign", floor)], ci_level=level)


def two_groups(est: float, n_a: int, n_b: int, direction: str, level: float, effect: str,
               n: dict[str, int]) -> TestResult:
    """Group a is constant, group b is constant, and a − b = `est`."""
    floor = permutation_floor(n_a, n_b)
    # The statistic is Mann–Whitney's U: pairs (a, b) with a above b.
    return TestResult("exact permutation test", float(n_a * n_b if est > 0 else 0), p_value(est, direction, floor),
                      est, interval(est, floor, level), effect, n, {"exact_p_floor": floor},
                      notes=[NOTE.format("permutation", floor)], ci_level=level)


def equivalent(est: float, margin: float, floor: float, level: float, effect: str, n: dict[str, int],
               test: str) -> TestResult:
    """Two one-sided exact tests of a constant effect `est` against ±margin (`floor` as above)."""
    inside = -margin < est < margin
    p_lower = floor if est > -margin else 1.0
    p_upper = floor if est < margin else 1.0
    return TestResult(f"{test} on constant runs: two exact one-sided tests", float(inside), max(p_lower, p_upper),
                      est, interval(est, floor, level), effect, n,
                      {"margin": margin, "p_lower": p_lower, "p_upper": p_upper, "exact_p_floor": floor},
                      notes=[NOTE.format("one-sided", floor)], ci_level=level)
