"""Sequential seeds: rounds of fresh seeds, decided by anytime-valid e-values, until every prediction is decided.

Known answers for the e-value (valid under the null at every look, powerful on a planted effect, its
confidence sequence covering at every look), the plan (disjoint fresh seeds, sealed up front), the
validation of what it supports, and the rounds end to end: in Python, and in a real Snakemake DAG where
round 1 cannot decide and round 2 does."""

import copy
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from conftest import FITS_BY_LOSS, ROOT, TINY, plan_of, write_yaml
from refute.components.predictions import sequential as seq
from refute.spec.errors import SpecError

LOOKS = range(4, 25, 4)  # 6 rounds of 4 seeds


def sequential_tiny(per_round=3, max_seeds=9) -> dict:
    d = copy.deepcopy(TINY)
    d["predictions"] = [copy.deepcopy(FITS_BY_LOSS)]
    d["sequential"] = {"seeds_per_round": per_round, "max_seeds": max_seeds}
    return d


# --- the e-value ---------------------------------------------------------------------------------------

def ever_holds(x: np.ndarray, direction="greater", looks=LOOKS, alpha=0.05) -> bool:
    return any(seq.look(direction, 0.0, seq.one_sample(x[:n]), {}, alpha).status == "holds" for n in looks)


def test_under_no_effect_looking_after_every_round_holds_falsely_at_most_alpha():
    rng = np.random.default_rng(1)
    # 400 repeats: the binomial SE at 0.05 is 0.011; the e-value's rate is far below α (about 0.01).
    rate = np.mean([ever_holds(rng.normal(0, 3, 24)) for _ in range(400)])
    assert rate <= 0.05


def test_an_effect_in_the_wrong_direction_holds_even_more_rarely():
    rng = np.random.default_rng(2)
    assert np.mean([ever_holds(rng.normal(-0.3, 1, 24)) for _ in range(300)]) <= 0.01


def test_a_planted_effect_of_one_sd_is_found_within_24_seeds():
    rng = np.random.default_rng(3)
    assert np.mean([ever_holds(rng.normal(1.0, 1, 24)) for _ in range(200)]) >= 0.8


def test_two_groups_under_no_difference_hold_falsely_at_most_alpha():
    rng = np.random.default_rng(4)
    hits = [any(seq.look("two-sided", 0.0, seq.two_groups(a[:n], b[:n]), {}, 0.05).status == "holds" for n in LOOKS)
            for a, b in (rng.normal(0, 1, (2, 24)) for _ in range(300))]
    assert np.mean(hits) <= 0.05


def test_the_confidence_sequence_covers_the_true_mean_at_every_look_at_once():
    rng = np.random.default_rng(5)
    misses = 0
    for _ in range(300):
        x = rng.normal(2.0, 0.5, 24)
        misses += any(not (lo <= 2.0 <= hi) for lo, hi in (seq.one_sample(x[:n]).sequence(0.05) for n in LOOKS))
    assert misses / 300 <= 0.05


def test_few_seeds_can_never_decide_however_clear_the_data():
    # The bound (1 + n·g)^((n − 1)/2): 4 seeds reach 11.2 < 20, 5 seeds 36.
    assert math.exp(seq.max_log_e(3, 4)) == pytest.approx(5 ** 1.5)
    constant = seq.one_sample(np.full(4, 1.0))
    assert seq.look("greater", 0.0, constant, {}, 0.05).status == "inconclusive"
    assert seq.look("greater", 0.0, seq.one_sample(np.full(5, 1.0)), {}, 0.05).status == "holds"
    assert constant.sequence(0.05) == (-math.inf, math.inf)


def test_a_clear_effect_short_of_delta_contradicts():
    x = np.random.default_rng(6).normal(0.1, 0.05, 16)
    assert seq.look("greater", 1.0, seq.one_sample(x), {}, 0.05).status == "contradicted"


# --- the plan -------------------------------------------------------------------------------------------

def test_rounds_take_fresh_seeds_disjoint_from_every_earlier_round():
    plan = plan_of(sequential_tiny(per_round=3, max_seeds=8))
    seeds = [list(plan.round_conditions(k)["default"].seeds) for k in range(1, plan.round_count() + 1)]
    assert seeds == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert len(set(plan.round_runs(k)["default"] for k in (1, 2, 3))) == 3


def test_a_plan_that_is_not_sequential_keeps_its_digest():
    d = copy.deepcopy(TINY)
    assert "later_rounds" not in plan_of(d).model_dump(mode="json")
    assert "sequential" not in plan_of(d).hypothesis.model_dump(mode="json")


@pytest.mark.parametrize("edit, field, words", [
    (lambda d: d["predictions"][0].update(test="wilcoxon"), "predictions.0.kind", "no anytime-valid test"),
    (lambda d: d["sequential"].update(max_seeds=3), "sequential.max_seeds", "leaves no round after the first"),
    (lambda d: d["sequential"].update(seeds_per_round=0), "sequential.seeds_per_round", "must be > 0"),
])
def test_bad_sequential_plans_are_rejected_with_file_line_and_field(edit, field, words):
    d = sequential_tiny()
    edit(d)
    with pytest.raises(SpecError) as err:
        plan_of(d)
    assert f"hypotheses/h.yaml:" in str(err.value) and field in str(err.value) and words in str(err.value)


def test_the_seal_registers_every_round_before_the_first_is_trained(tmp_path):
    from refute.spec.loader import load_hypothesis
    from refute.spec.seal import seal

    path = write_yaml(tmp_path / "hypotheses/tiny.yaml", sequential_tiny(per_round=3, max_seeds=9))
    record = seal(load_hypothesis(path), lambda h: False)
    assert record["plan"]["sequential"]["rounds"] == [{"default": [3, 4, 5]}, {"default": [6, 7, 8]}]


# --- the rounds, end to end ------------------------------------------------------------------------------

def test_round_one_cannot_decide_round_two_does_and_round_three_is_never_trained(tmp_path):
    from refute import layout
    from refute.stats.analyse import analyse
    from refute.stats.sequential import look_after_round
    from refute.training.job import train_run
    from refute.workflow.agenda import Agenda, load_all

    write_yaml(tmp_path / "hypotheses/tiny.yaml", sequential_tiny(per_round=3, max_seeds=9))
    agenda = Agenda(load_all(tmp_path / "hypotheses"), tmp_path / "results")
    agenda.write_inputs()
    hyp, L = agenda.hypotheses["tiny"], agenda.layout
    # Only round 1 is a target of `all`: later rounds are trained when a look asks for them.
    assert not any(h in r for r in agenda.records() for h in (*hyp.round_runs(2).values(), *hyp.round_runs(3).values()))
    for k, expect in ((1, True), (2, False)):
        for h in hyp.round_runs(k).values():
            train_run(L.run_file(h, layout.RUN_SPEC), L.run_dir(h))
        assert look_after_round(agenda.plan_file("tiny"), tmp_path / "results", k)["continue"] is expect
    v = analyse(agenda.plan_file("tiny"), tmp_path / "results")
    assert v.verdict == "SUPPORTED" and "at round 2" in v.reasons[0]
    assert [r.round for r in v.sequential.rounds] == [1, 2] and v.sequential.stopped == "every prediction decided"
    assert v.sequential.rounds[0].status == {"fits": "inconclusive"}
    assert v.sequential.rounds[1].e_holds["fits"] >= 20
    assert v.runs["default"].seeds == [0, 1, 2, 3, 4, 5]
    assert not v.post_hoc
    from refute.report.html import write_html_report
    from refute.report.markdown import write_report

    write_report("tiny", tmp_path / "results")
    write_html_report("tiny", tmp_path / "results")
    report = (tmp_path / "results/tiny/report.md").read_text()
    assert "## Rounds" in report and "| 2 | default: 3, 4, 5 |" in report and "(holds)" in report
    assert 'id="rounds"' in (tmp_path / "results/tiny/report.html").read_text()


@pytest.mark.slow
def test_one_snakemake_invocation_runs_round_after_round_until_decided(tmp_path):
    write_yaml(tmp_path / "hypotheses/tiny.yaml", sequential_tiny(per_round=3, max_seeds=9))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
                          "--cores", "2"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    verdict = json.loads((tmp_path / "results/tiny/verdict.json").read_text())
    assert verdict["verdict"] == "SUPPORTED", verdict["reasons"]
    assert [r["round"] for r in verdict["sequential"]["rounds"]] == [1, 2]
    looks = [json.loads((tmp_path / f"results/tiny/rounds/round-{k}.json").read_text()) for k in (1, 2)]
    assert [lk["continue"] for lk in looks] == [True, False]
    from refute.layout import RUN_RECORD, Layout

    round3 = plan_of(sequential_tiny(3, 9)).round_runs(3)["default"]
    assert not Layout(tmp_path / "results").run_file(round3, RUN_RECORD).exists()  # planned, never trained
    report = (tmp_path / "results/tiny/report.md").read_text()
    assert "e-value" in report and "## Rounds" in report
    again = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
                            "--cores", "2", "-n"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


# --- the refine loop -------------------------------------------------------------------------------------

def _inconclusive(tmp_path, spec):
    from conftest import prediction_records, verdict_record, write_records
    from refute.spec.loader import load_hypothesis

    h = load_hypothesis(write_yaml(tmp_path / "hypotheses" / f"{spec['id']}.yaml", spec))
    preds = prediction_records(h, {p["id"]: "inconclusive" for p in spec["predictions"]})
    write_records(tmp_path / "results", h, verdict_record(h, preds, "INCONCLUSIVE"), preds)


def test_refine_proposes_sequential_rounds_of_fresh_seeds_for_an_inconclusive_verdict(tmp_path, tiny):
    import yaml

    from refute.loop.refine import write_draft
    from refute.spec.loader import load_hypothesis

    _inconclusive(tmp_path, tiny)
    plain, d = write_draft("tiny", tmp_path / "hypotheses", tmp_path / "results")
    assert "refute refine tiny --sequential" in plain.read_text()  # proposed beside the plain draft
    path, d = write_draft("tiny", tmp_path / "hypotheses", tmp_path / "results", sequential=True)
    data = yaml.safe_load(path.read_text())
    assert data["sequential"] == {"seeds_per_round": 5, "max_seeds": 24}  # 5: the fewest that can reach 1/α
    assert data["seeds"] == [3, 4, 5, 6, 7]  # fresh: none of the parent's 0..2
    plan = load_hypothesis(path)
    later = {s for k in range(2, plan.round_count() + 1) for s in plan.round_conditions(k)["default"].seeds}
    assert later.isdisjoint({0, 1, 2, *data["seeds"]}) and "anytime-valid" in path.read_text()


def test_refine_refuses_a_sequential_draft_for_kinds_without_an_anytime_valid_test(tmp_path, tiny):
    from refute.loop.refine import RefineError, write_draft

    tiny["predictions"][0]["test"] = "wilcoxon"
    _inconclusive(tmp_path, tiny)
    with pytest.raises(RefineError, match="no anytime-valid test"):
        write_draft("tiny", tmp_path / "hypotheses", tmp_path / "results", sequential=True)


def test_a_dry_run_plans_round_one_and_says_later_rounds_wait_for_the_looks(tmp_path):
    from refute.workflow.agenda import Agenda, load_all
    from refute.workflow.preview import plan_text

    write_yaml(tmp_path / "hypotheses/tiny.yaml", sequential_tiny(per_round=3, max_seeds=9))
    text = plan_text(Agenda(load_all(tmp_path / "hypotheses"), tmp_path / "results"), cores=2, calibrate_here=False)
    assert "up to 2 more round(s) of 3 fresh seeds" in text and "Models to train: 3 (1 run(s)" in text


def test_a_bad_sequential_block_is_reported_at_its_line_in_the_file(tmp_path):
    from refute.spec.loader import load_hypothesis

    path = write_yaml(tmp_path / "hypotheses/tiny.yaml", sequential_tiny(per_round=3, max_seeds=2))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "max_seeds" in text)
    with pytest.raises(SpecError, match=rf"tiny.yaml:{line}: sequential.max_seeds: max_seeds 2 leaves no round"):
        load_hypothesis(path)


def test_refining_a_sequential_parent_whose_budget_ran_out(tmp_path):
    import yaml

    from refute.loop.refine import write_draft

    _inconclusive(tmp_path, {**sequential_tiny(per_round=3, max_seeds=9), "id": "tiny"})
    plain, _ = write_draft("tiny", tmp_path / "hypotheses", tmp_path / "results")
    data = yaml.safe_load(plain.read_text())
    assert "sequential" not in data and min(data["seeds"]) == 9  # past every round the parent planned
    again, _ = write_draft("tiny", tmp_path / "hypotheses", tmp_path / "results", sequential=True)
    data = yaml.safe_load(again.read_text())
    assert data["sequential"]["max_seeds"] == 24 and min(data["seeds"]) == 9
