"""Tests for runs with no spread, where a t statistic is infinite and its p-value 0.

When every run gives the same value (a metric at its ceiling: train accuracy 1.0 in every seed), a t-test
reports p = 0 and a CI of no width, so two runs at 1.0 would "prove" a mean above 0.95. What such runs show
is only on which side each one lies, and that is what these exact tests use:

- one sample, or per-seed differences: the sign test. Under "no effect" each run lies on either side with
  probability ½, so all n on the predicted side has p = 1/2ⁿ (two-sided: twice that);
- two groups, each constant: the permutation test. Every run of a above every run of b is one of
  C(n_a + n_b, n_a) equally likely orderings: p = 1/C(n_a + n_b, n_a);
- equivalence: each of the two one-sided tests is the exact test above, against −margin and +margin.

Runs stacked at a bound (at least half of them share the largest or the smallest value, as when most seeds
reach train accuracy 1.0 and a few stop short) are no better served by a t-test: its normal approximation
takes four runs at 1.0 and one below the claim for evidence. One sample (or per-seed differences) stacked so
is tested by the sign test on how many runs lie on each side of the reference (`stacked_sign`).

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


def stacked(x: np.ndarray) -> bool:
    """True when the runs spread, but at least half of them share the largest or the smallest value: a point
    mass at a bound, which no t-test models."""
    if len(x) < 2 or constant(x):
        return False
    shared = at_extreme(x)
    return shared >= 2 and 2 * shared >= len(x)  # two distinct runs are each "half" of two: no point mass


def at_extreme(x: np.ndarray) -> int:
    """How many runs share the largest value, or the smallest, whichever more do (to rounding)."""
    tol = 1e-12 * max(1.0, float(np.max(np.abs(x))))
    return max(int(np.sum(x >= np.max(x) - tol)), int(np.sum(x <= np.min(x) + tol)))


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


def stacked_sign(x: np.ndarray, direction: str, level: float, effect: str, n: dict[str, int]) -> TestResult:
    """The sign test of runs `x` (values minus the reference) stacked at a bound: the count above the
    reference among those not on it, against Binomial(runs, ½); the effect is the median and its CI the
    distribution-free one from order statistics (unbounded when the runs are too few for the level)."""
    from scipy import stats

    above, below = int(np.sum(x > 0)), int(np.sum(x < 0))
    m = above + below
    test = stats.binomtest(above, m, 0.5, alternative=direction) if m else None
    p = float(test.pvalue) if test else 1.0
    xs, k = np.sort(x), len(x)
    # the largest j with P(Binomial(k, ½) < j) ≤ (1 − level)/2: [x_(j), x_(k+1−j)] covers the median at `level`
    j = int(stats.binom.ppf((1 - level) / 2, k, 0.5))
    while j > 0 and stats.binom.cdf(j - 1, k, 0.5) > (1 - level) / 2:
        j -= 1
    ci = (float(xs[j - 1]), float(xs[k - j])) if j >= 1 else (-math.inf, math.inf)
    return TestResult("exact sign test (runs stacked at a bound)", float(above), p, float(np.median(x)), ci,
                      effect.replace("mean", "median", 1), n, {"exact_p_floor": sign_floor(k), "above": above,
                                                                "below": below},
                      notes=[f"{k - at_extreme(x)} of {k} runs off "
                             "the value most of them share (a bound): a t-test would read the point mass as "
                             "evidence, so the sign test decides"], ci_level=level)
