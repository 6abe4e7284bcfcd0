"""Runs with no spread (a metric at its ceiling): exact tests, whose p is bounded by the number of runs.

A t-test on constant values reports p = 0 and a CI of no width, so two runs at 1.0 would make "the mean is
above 0.95" hold. These are the known answers an exact test gives instead, and the seeds the power
analysis plans for them."""

import math

import numpy as np
import pytest

from refute.components.predictions import frame
from refute.components.predictions.outcome import CONTRADICTED, HOLDS, UNDECIDED
from test_stats_kinds import pred, run, status


def above(**kw):
    return pred(kind="threshold", condition="a", threshold=0.95, direction="greater", **kw)


@pytest.mark.parametrize("seeds, expected", [(2, UNDECIDED), (4, UNDECIDED), (5, HOLDS), (8, HOLDS)])
def test_runs_at_a_ceiling_decide_a_threshold_only_when_there_are_enough_of_them(seeds, expected):
    r = run(above(), {"a": [1.0] * seeds})
    assert r.p == pytest.approx(0.5**seeds) and r.p > 0 and math.isfinite(r.statistic)
    assert r.test == "exact sign test" and "no spread" in r.notes[0]
    assert status(above(), {"a": [1.0] * seeds}) == expected


def test_the_ci_of_constant_runs_is_unbounded_below_the_confidence_their_number_gives():
    # The order-statistic CI of a median: [min, max] covers with 1 − 2/2ⁿ, so 2 runs give 50%, 6 give 96.9%.
    assert run(above(), {"a": [1.0] * 2}).ci == (-math.inf, math.inf)
    assert run(above(), {"a": [1.0] * 6}).ci == pytest.approx((0.05, 0.05))


def test_constant_runs_on_the_wrong_side_never_hold_and_enough_of_them_contradict():
    assert run(above(), {"a": [0.9] * 8}).p == 1.0
    assert status(above(), {"a": [0.9] * 2}) == UNDECIDED
    assert status(above(), {"a": [0.9] * 8}) == CONTRADICTED


def test_a_two_sided_exact_test_doubles_the_tail():
    p = pred(kind="threshold", condition="a", threshold=0.95, direction="two-sided")
    assert run(p, {"a": [1.0] * 5}).p == pytest.approx(2 / 32)


@pytest.mark.parametrize("test", ["welch", "mannwhitney"])
@pytest.mark.parametrize("n, expected_p", [(2, 1 / 6), (3, 1 / 20), (5, 1 / 252)])
def test_two_constant_groups_are_compared_by_an_exact_permutation_test(test, n, expected_p):
    # Every run of a above every run of b happens by chance once in C(2n, n) orderings.
    p = pred(kind="compare", conditions=["a", "b"], test=test, direction="greater")
    data = {"a": [1.0] * n, "b": [0.5] * n}
    r = run(p, data)
    assert r.p == pytest.approx(expected_p) and r.estimate == pytest.approx(0.5)
    assert r.test == "exact permutation test" and math.isfinite(r.statistic)
    assert status(p, data) == (UNDECIDED if n < 5 else HOLDS)


def test_constant_groups_with_the_same_value_show_no_difference():
    r = run(pred(kind="compare", conditions=["a", "b"], test="welch", direction="greater"),
            {"a": [1.0] * 6, "b": [1.0] * 6})
    assert r.p == 1.0 and r.estimate == 0.0


def test_a_constant_paired_difference_is_a_sign_test():
    p = pred(kind="compare", conditions=["a", "b"], test="paired_t", direction="greater")
    r = run(p, {"a": np.arange(4) + 1.0, "b": np.arange(4) + 0.0})
    assert r.p == pytest.approx(1 / 16) and r.estimate == 1.0 and r.test == "exact sign test"


@pytest.mark.parametrize("seeds, expected", [(2, UNDECIDED), (8, HOLDS)])
def test_equivalence_of_constant_runs_needs_enough_runs(seeds, expected):
    p = pred(kind="equivalence", conditions=["a"], value=1.0, margin=0.05)
    r = run(p, {"a": [1.01] * seeds})
    assert r.p == pytest.approx(0.5**seeds) and r.p > 0 and math.isfinite(r.statistic)
    assert status(p, {"a": [1.01] * seeds}) == expected


def test_equivalence_of_two_constant_groups_is_a_permutation_test():
    p = pred(kind="equivalence", conditions=["a", "b"], margin=0.05)
    r = run(p, {"a": [1.0] * 3, "b": [0.99] * 3})
    assert r.p == pytest.approx(1 / 20)
    assert run(p, {"a": [1.0] * 3, "b": [0.5] * 3}).p == 1.0  # constant, and outside the margin


# --- planning seeds for exact tests ----------------------------------------------------------------

@pytest.mark.parametrize("alpha, seeds", [(0.05, 5), (0.05 / 3, 6), (0.01, 7)])
def test_seeds_for_a_sign_test_at_a_ceiling_are_the_fewest_whose_p_can_fall_below_alpha(alpha, seeds):
    # The smallest n with 1/2ⁿ < α: 5 at α = 0.05; 6 at α/3 (three predictions under Holm); 7 at 0.01.
    p = above()
    r = run(p, {"a": [1.0] * 3})
    plan = p.power(r, frame({"a": [1.0] * 3}), alpha)
    assert plan["seeds_for_80"] == seeds and plan["power_at_n"] == 0.0
    assert 0.5 ** seeds < alpha <= 0.5 ** (seeds - 1)
    assert "exact" in plan["method"]


def test_seeds_for_two_constant_groups_follow_the_permutation_floor():
    p = pred(kind="compare", conditions=["a", "b"], test="welch", direction="greater")
    r = run(p, {"a": [1.0] * 2, "b": [0.5] * 2})
    plan = p.power(r, frame({}), 0.05)
    assert plan["seeds_for_80"] == 4 and plan["unit"] == "seeds per condition"  # 1/C(8, 4) = 1/70 < 0.05 ≤ 1/20


def test_no_seeds_are_planned_for_constant_runs_that_can_never_hold():
    # Runs at 1.0 against a threshold of 0.95 with δ = 0.1: no number of such runs makes the effect δ.
    p = above(min_effect=0.1)
    assert p.power(run(p, {"a": [1.0] * 3}), frame({}), 0.05) is None
    assert above().power(run(above(), {"a": [0.9] * 3}), frame({}), 0.05) is None


def test_equivalence_of_constant_runs_plans_seeds_for_the_exact_floor():
    p = pred(kind="equivalence", conditions=["a"], value=1.0, margin=0.05)
    plan = p.power(run(p, {"a": [1.01] * 2}), frame({}), 0.05)
    assert plan["seeds_for_80"] == 5


def test_a_hypothesis_at_a_ceiling_is_refined_with_the_seeds_its_exact_tests_need(tmp_path, tiny):
    # Three predictions at a ceiling in 3 seeds: each p = 1/8, undecided. Under Holm each is judged at
    # α/3 = 0.0167 at its strictest step, so the draft asks for 6 seeds (1/64 < 0.0167 ≤ 1/32).
    from conftest import analyse_file, write_yaml
    from refute.loop.refine import write_draft
    from test_analyse import fake_runs

    tiny["predictions"] = [{**tiny["predictions"][0], "id": f"fits-{i}"} for i in range(3)]
    path = write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    fake_runs(tmp_path / "results", path, lambda c, s, m, t: 1.0)
    verdict = analyse_file(path, tmp_path / "results")
    assert verdict["verdict"] == "INCONCLUSIVE"
    assert {p["seeds_for_80"] for p in verdict["power"].values()} == {6}
    _, draft = write_draft("tiny", tmp_path / "hypotheses", tmp_path / "results")
    assert draft.data["seeds"] == list(range(3, 9))


@pytest.mark.parametrize("test, expected_p", [("t", 1 / 20), ("paired_t", 1 / 8)])
def test_equivalence_relative_to_b_of_constant_groups_is_exact(test, expected_p):
    # a within ±10% of b, both constant: not p = 0 but the exact floor (permutation, or sign test on pairs).
    p = pred(kind="equivalence", conditions=["a", "b"], margin=0.1, relative=True, test=test)
    r = run(p, {"a": [1.02] * 3, "b": [1.0] * 3})
    assert r.p == pytest.approx(expected_p) and math.isfinite(r.statistic)
    assert r.estimate == pytest.approx(0.02) and status(p, {"a": [1.02] * 3, "b": [1.0] * 3}) == UNDECIDED


def test_runs_stacked_at_a_ceiling_with_one_below_the_claim_do_not_hold_by_a_t_test():
    # Four runs at 1.0 and one at 0.93: a t-test gives p ≈ 0.03 (the point mass reads as a tight mean above
    # 0.95); what the runs show is four of five above the claim, which a sign test puts at p = 6/32.
    r = run(above(), {"a": [1.0, 1.0, 1.0, 1.0, 0.93]})
    assert r.test.startswith("exact sign test") and r.p == pytest.approx(6 / 32)
    assert "median" in r.effect and r.ci == (-math.inf, math.inf)
    assert status(above(), {"a": [1.0, 1.0, 1.0, 1.0, 0.93]}) == UNDECIDED


def test_runs_stacked_at_a_ceiling_hold_when_enough_lie_above_the_claim():
    r = run(above(), {"a": [1.0] * 7 + [0.93]})
    assert r.p == pytest.approx(9 / 256) and r.ci == pytest.approx((-0.02, 0.05))
    assert status(above(), {"a": [1.0] * 9 + [0.97]}) == HOLDS


def test_runs_without_a_point_mass_keep_the_t_test():
    assert run(above(), {"a": [0.99, 0.97, 1.0, 0.98, 0.96]}).test == "one-sample t-test"


def test_a_point_mass_needs_two_runs_on_it():
    # Two different runs are each "half the runs at an extreme", but no value is shared: t-test as before.
    assert run(above(), {"a": [0.99, 0.97]}).test == "one-sample t-test"
    assert run(above(), {"a": [0.99, 0.97, 0.98]}).test == "one-sample t-test"
    assert run(above(), {"a": [1.0, 1.0, 0.97]}).test.startswith("exact sign test")
