"""Tests for runs with no spread, where a t statistic is infinite and its p-value 0.

When every run gives the same value (a metric at its ceiling, train accuracy 1.0), a t-test reports p = 0
and a CI of no width: two runs at 1.0 would "prove" a mean above 0.95. What such runs show is only that
each lies on one side, and that is what these exact tests use: a sign test for one sample (or per-seed
differences), a permutation test for two groups (every value of one group above every value of the
other). Their p-values are bounded below by the number of runs, 1/2^n and 1/C(n_a + n_b, n_a), so two runs
at a ceiling decide nothing and eight can. The CI is the common value only at a confidence the runs can
give; short of it, it is unbounded (the data cannot exclude anything at that level).
"""

from __future__ import annotations

import math

from refute.components.predictions import TestResult

NOTE = "no variance across runs: an exact {} test (its p cannot be smaller than {:.3g} with {} runs)"


def _p(est: float, direction: str, tail: float) -> float:
    """p of `direction` when every run lies on the side of `est` (tail: the chance of that under no effect)."""
    if est == 0:
        return 1.0
    if direction == "two-sided":
        return min(1.0, 2 * tail)
    return tail if (est > 0) == (direction == "greater") else 1.0


def _ci(est: float, tail: float, level: float) -> tuple[float, float]:
    return (est, est) if 1 - 2 * tail >= level else (-math.inf, math.inf)


def one_sample(est: float, runs: int, direction: str, level: float, effect: str, n: dict[str, int]) -> TestResult:
    """Every one of `runs` values (or per-seed differences) minus the reference equals `est`."""
    tail = 0.5**runs
    return TestResult("exact sign test", float(runs if est > 0 else 0), _p(est, direction, tail), est,
                      _ci(est, tail, level), effect, n, notes=[NOTE.format("sign", tail, runs)], ci_level=level)


def two_groups(est: float, n_a: int, n_b: int, direction: str, level: float, effect: str,
               n: dict[str, int]) -> TestResult:
    """Group a is constant, group b is constant, and a − b = `est`."""
    tail = 1 / math.comb(n_a + n_b, n_a)
    return TestResult("exact permutation test", float(n_a * n_b if est > 0 else 0), _p(est, direction, tail), est,
                      _ci(est, tail, level), effect, n, notes=[NOTE.format("permutation", tail, n_a + n_b)],
                      ci_level=level)


def equivalent(est: float, margin: float, tail: float, level: float, effect: str, n: dict[str, int],
               test: str) -> TestResult:
    """Two one-sided exact tests of a constant effect `est` against ±margin (tail as above)."""
    p = tail if -margin < est < margin else 1.0
    return TestResult(f"{test} on constant runs: exact", float(-margin < est < margin), p, est, _ci(est, tail, level),
                      effect, n, {"margin": margin},
                      notes=["no variance across runs: each one-sided test is exact; p cannot be smaller than "
                             f"{tail:.3g}"], ci_level=level)
