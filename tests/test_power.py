"""Power analysis: the planned seeds match textbook answers and simulation."""

import numpy as np
import pytest
from scipy import stats

from refute.components.predictions import power
from refute.components.predictions import TestResult, frame
from test_stats_kinds import pred


def result(**extra):
    return TestResult("t", 0.0, 0.5, 0.1, (-1.0, 1.0), "e", {"a": 5, "b": 5}, extra)


def test_welch_plan_matches_the_textbook_two_sample_t():
    # δ = 1 sd, one-sided α = 0.05: 14 seeds per group (statsmodels 13.1, rounded up).
    p = pred(kind="compare", conditions=["a", "b"], direction="greater", min_effect=1.0)
    plan = p.power(result(sd_pooled=1.0), frame({}), 0.05)
    assert plan["seeds_for_80"] == 14 and plan["basis"].startswith("declared")
    from statsmodels.stats.power import TTestIndPower

    assert plan["power_at_n"] == pytest.approx(TTestIndPower().power(1.0, 5, 0.05, alternative="larger"), abs=1e-4)
    assert plan["n"] == 5
    assert power.t_power(1.0, 1.0, plan["seeds_for_80"], 0.05, "greater", 2, False) >= 0.8
    assert power.t_power(1.0, 1.0, plan["seeds_for_80"] - 1, 0.05, "greater", 2, False) < 0.8


def test_rank_tests_need_more_seeds_by_their_efficiency():
    def need(test):
        p = pred(kind="compare", conditions=["a", "b"], direction="greater", min_effect=0.5, test=test)
        return p.power(result(sd_pooled=1.0), frame({}), 0.05)["seeds_for_80"]

    assert need("welch") == 51  # statsmodels: 50.2
    assert need("mannwhitney") == 53  # 50.2 · π/3 = 52.6


def test_without_a_declared_effect_the_plan_uses_the_observed_one_and_says_so():
    p = pred(kind="threshold", condition="a", threshold=0.0, direction="greater")
    plan = p.power(TestResult("t", 0, 0.2, 0.5, (-0.1, 1.1), "e", {"a": 4}, {"sd": 1.0}), frame({}), 0.05)
    assert plan["effect"] == 0.5 and plan["basis"].startswith("observed")


def test_binomial_power_is_exact():
    # n = 5, p0 = 0.5: only 5/5 rejects at α = 0.05 (p = 1/32), so power at p = 0.9 is 0.9^5.
    assert power.binomial_power(0.5, 0.9, 5, 0.05, "greater") == pytest.approx(0.9**5)
    p = pred(kind="proportion", conditions=["a"], meets={"above": 0.5}, p0=0.5, direction="greater", min_effect=0.4)
    plan = p.power(TestResult("b", 5, 0.03, 0.5, (0, 0.5), "e", {"runs": 5}), frame({}), 0.05)
    assert plan["power_at_n"] == pytest.approx(0.9**5, abs=1e-3)
    assert power.binomial_power(0.5, 0.9, plan["seeds_for_80"], 0.05, "greater") >= 0.8


def test_tost_power_matches_simulation():
    g = np.random.default_rng(0)
    n, sd, m, sims = 10, 1.0, 0.8, 20000
    x = g.normal(0, sd, (sims, n))
    mean, se = x.mean(1), x.std(1, ddof=1) / np.sqrt(n)
    crit = stats.t.ppf(0.95, n - 1)
    simulated = np.mean(((mean + m) / se > crit) & ((mean - m) / se < -crit))
    planned = power.tost_power(m, lambda k: sd / np.sqrt(k), lambda k: k - 1, n, 0.05)
    assert planned == pytest.approx(simulated, abs=0.04)


def test_trend_slope_plan_scales_with_seeds():
    p = pred(kind="trend", x={"param": "train.lr"}, test="ols", direction="greater", min_effect=0.2)
    r = TestResult("ols", 1.0, 0.1, 0.15, (-0.05, 0.35), "slope", {"points": 12, "seeds": 4, "levels": 3},
                   {"se": 0.1})
    plan = p.power(r, frame({}), 0.05)
    # sd over seeds = 0.1 · √4 = 0.2, so δ/sd = 1: the one-sample t needs 8 seeds for 80%.
    assert plan["seeds_for_80"] == 8


def test_no_plan_without_variance_or_effect():
    p = pred(kind="threshold", condition="a", threshold=0.0, direction="greater")
    assert p.power(TestResult("t", 0, 1.0, 0.0, (0, 0), "e", {"a": 4}, {"sd": 1.0}), frame({}), 0.05) is None
