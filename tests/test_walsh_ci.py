"""The Wilcoxon signed-rank CI (paired compare, threshold) is the interval of Walsh averages that inverts
the test: exact at the sizes users run, checked against the published critical values."""

import numpy as np
import pytest

from refute.components.predictions.compare import signed_rank_null, walsh_ci

# Two-sided α = 0.05 critical values of the signed-rank statistic (reject when T ≤ value), e.g. Hollander &
# Wolfe, Table A.4.
CRITICAL = {6: 0, 7: 2, 8: 3, 9: 5, 10: 8, 12: 13, 15: 25, 20: 52, 30: 137}


@pytest.mark.parametrize("n, critical", CRITICAL.items())
def test_the_null_distribution_gives_the_published_critical_values(n, critical):
    cdf = np.cumsum(signed_rank_null(n))
    assert int(np.flatnonzero(cdf <= 0.025 + 1e-12)[-1]) == critical


def test_at_six_runs_the_95_percent_ci_spans_the_extreme_walsh_averages():
    d = np.array([-1.0, 0.5, 2.0, 3.5, 4.0, 7.0])
    (lo, hi), achieved = walsh_ci(d, 0.95)
    assert (lo, hi) == (-1.0, 7.0)
    assert achieved == pytest.approx(1 - 2 / 64)


def test_too_few_runs_give_an_unbounded_ci_not_a_narrower_one():
    (lo, hi), achieved = walsh_ci(np.array([1.0, 2.0, 3.0, 4.5, 5.0]), 0.95)
    assert lo == -np.inf and hi == np.inf and np.isnan(achieved)


@pytest.mark.parametrize("n", [6, 8, 12])
def test_covers_the_centre_of_symmetric_skew_free_data_at_least_at_its_level(n):
    g = np.random.default_rng(n)
    draws = 3000
    misses = sum(not (lo <= 0 <= hi) for (lo, hi), _ in (walsh_ci(g.standard_t(3, size=n), 0.95) for _ in range(draws)))
    # At most 5% plus three binomial standard errors (the bootstrap CI it replaced missed 13% at n = 6).
    assert misses / draws <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / draws)
