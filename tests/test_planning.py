"""The plan, before anything runs: jobs, models, FLOPs and a wall-time estimate calibrated on this machine."""

import json
import platform

import pytest

from conftest import write_yaml
from refute import cli, io
from refute.workflow import calibration as estimate
from refute.workflow import preview
from refute.workflow.agenda import load_agenda

FAKE = estimate.Calibration(flops_per_s=1e10, step_overhead_s=1e-3, startup_s=2.0, threads=1,
                            host=platform.node(), torch="x", measured_at="2026-01-01 00:00:00")


@pytest.fixture
def calibrated(monkeypatch):
    """A fixed calibration, so the numbers below are exact and no test pays for measuring."""
    monkeypatch.setattr(preview, "calibration", lambda directory=None, threads=1: (FAKE, "cached.json"))


@pytest.fixture
def project(tmp_path, tiny):
    tiny["conditions"] = {"narrow": {"model.params.width": 16}, "wide": {"model.params.width": 48}}
    tiny["predictions"][0]["condition"] = "wide"
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    # A second hypothesis sharing the `wide` training run.
    other = {**tiny, "id": "other", "conditions": {"w": {"model.params.width": 48}},
             "predictions": [{**tiny["predictions"][0], "condition": "w"}]}
    write_yaml(tmp_path / "hypotheses" / "other.yaml", other)
    return tmp_path


def test_the_plan_lists_jobs_models_flops_and_time(project, calibrated):
    plan = load_agenda(project / "hypotheses", project / "results")
    text = preview.plan_text(plan, cores=2)
    assert "Plan for tiny" in text and "Plan for other" in text
    for cond in ("narrow", "wide", "w"):
        assert f"  {cond} " in text
    assert "shared with other:w" in text and "shared with tiny:wide" in text
    # Two distinct runs of 3 seeds: the shared one is trained once.
    assert "Jobs to run: 6 (2 train, 2 stats, 2 report)" in text
    assert "Models to train: 6 (2 run(s)" in text
    flops = sum(plan.job_cost(h).flops for h in plan.runs)
    assert f"Compute: {flops:.2e} FLOPs" in text
    assert "Wall time on this machine" in text and "2 core(s)" in text


def test_a_plan_for_one_hypothesis_counts_only_its_jobs(project, calibrated):
    plan = load_agenda(project / "hypotheses", project / "results")
    assert "Jobs to run: 3 (1 train, 1 stats, 1 report)" in preview.plan_text(plan, ["other"])


def test_finished_runs_are_not_planned_again(project, calibrated):
    plan = load_agenda(project / "hypotheses", project / "results")
    wide = plan.hypotheses["tiny"].runs["wide"]
    io.write_json(plan.layout.run_file(wide, "run.json"), {"seeds": [0, 1, 2], "steps": 150})
    text = preview.plan_text(plan, ["tiny"])
    assert "Jobs to run: 3 (1 train, 1 stats, 1 report)" in text
    assert "Models to train: 3 (1 run(s)" in text
    wide_line = next(line for line in text.splitlines() if line.startswith("  wide "))
    assert "done" in wide_line and "to train" not in wide_line


def test_split_runs_plan_a_job_per_chunk_and_a_merge(project, calibrated):
    plan = load_agenda(project / "hypotheses", project / "results", seeds_per_job=2)
    text = preview.plan_text(plan, ["other"])
    assert "Jobs to run: 5 (2 train_chunk, 1 merge_seeds, 1 stats, 1 report)" in text
    assert "seeds per job: 2" in text


def test_wall_time_schedules_jobs_on_the_cores():
    assert preview.makespan([4, 3, 3, 2], slots=2) == 6
    assert preview.makespan([4, 3, 3, 2], slots=1) == 12
    assert preview.makespan([], slots=2) == 0
    jobs = [preview.Job("train", "a", 10.0), preview.Job("train", "b", 10.0),
            preview.Job("stats", "h", 2.0), preview.Job("report", "h", 3.0)]
    assert preview.wall_seconds(jobs, slots=2) == 15.0


def test_calibration_is_measured_once_then_read_back(tmp_path):
    cal, path = estimate.calibration(tmp_path, threads=1)
    assert cal.flops_per_s > 1e8 and cal.startup_s > 0 and cal.step_overhead_s >= 0
    assert json.loads(path.read_text())["host"] == platform.node()
    again, _ = estimate.calibration(tmp_path, threads=1)
    assert again == cal


def test_refute_plan_prints_the_plan(project, calibrated, capsys):
    args = ["plan", "tiny", "--hypotheses", str(project / "hypotheses"), "--results", str(project / "results")]
    assert cli.main(args) == 0
    assert "Plan for tiny" in capsys.readouterr().out
    assert cli.main([*args[:1], "nope", *args[2:]]) == 1
    assert "refute: no hypothesis or exploration with id 'nope'" in capsys.readouterr().err


def test_read_only_commands_write_nothing_under_results(tmp_path, tiny, calibrated, monkeypatch):
    """check, plan and status read; only a run writes results (a calibration is cached outside results/)."""
    from conftest import ROOT

    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check"]) == 0
    assert cli.main(["plan"]) == 0
    assert cli.main(["status", "--snakefile", str(ROOT / "Snakefile")]) == 0
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "hypotheses/.sealed").exists()  # nothing is sealed until jobs are about to run
