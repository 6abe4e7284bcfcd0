"""The plan, before anything runs: jobs, models, FLOPs and a wall-time estimate calibrated on this machine."""

import dataclasses
import json
import math
import platform

import pytest

from conftest import write_yaml
from refute import cli, io
from refute.scaling import costs
from refute.workflow import calibration as estimate
from refute.workflow import preview
from refute.workflow.agenda import load_agenda

HERE = estimate.this_machine()
# Without the references' lane sizes every model runs at the big rate, so the numbers below stay simple; the
# small products' rate has its own test.
FAKE = estimate.Calibration(
    speeds=(estimate.Speed(threads=1, flops_per_s=1e10, step_overhead_s=1e-3, eval_s=2e-3, small_flops_per_s=1e9),
            estimate.Speed(threads=2, flops_per_s=2e10, step_overhead_s=2e-3, eval_s=4e-3, small_flops_per_s=2e9)),
    startup_s=2.0, light_startup_s=1.0, snakemake_s=3.0, host=HERE.host, cpu=HERE.cpu, cores=HERE.cores,
    torch=HERE.torch, refute=HERE.refute, measured_at="2026-01-01 00:00:00", measured_epoch=HERE.now, seconds=8.0,
    load=(0.1, 0.2, 0.3), cpu_share=0.98)


@pytest.fixture
def calibrated(monkeypatch):
    """A fixed calibration, so the numbers below are exact and no test pays for measuring."""
    monkeypatch.setattr(preview, "calibration", lambda directory=None: estimate.Cached(FAKE, "cached.json"))


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
            preview.Job("stats", "h", 2.0, after=("train:a", "train:b")),
            preview.Job("report", "h", 3.0, after=("stats:h",))]
    assert preview.wall_seconds(jobs, cores=2) == 15.0


def test_a_job_holds_its_threads_cores_and_waits_for_its_inputs():
    two = [preview.Job("train", "a", 10.0, threads=2), preview.Job("train", "b", 10.0, threads=2)]
    assert preview.wall_seconds(two, cores=2) == 20.0  # one at a time: each takes both cores
    assert preview.wall_seconds(two, cores=4) == 10.0
    assert preview.wall_seconds(two, cores=1) == 20.0  # Snakemake caps a job's threads at the cores
    # A hypothesis's statistics start when its own run is done, beside another hypothesis's training.
    jobs = [preview.Job("train", "a", 10.0), preview.Job("train", "b", 2.0),
            preview.Job("stats", "h", 3.0, after=("train:b",))]
    assert preview.wall_seconds(jobs, cores=2) == 10.0


def test_a_training_job_costs_its_start_up_its_steps_and_evaluations_per_batch_and_its_flops():
    cost = costs.JobCost(seeds=4, steps=1000, evals=11, params_per_seed=10, train_flops=4e9, eval_flops=1e9,
                         memory_bytes=0.0)
    one = 2.0 + 1000 * 1e-3 + 11 * 2e-3 + 5e9 / 1e10
    assert FAKE.job_seconds(cost, threads=1) == pytest.approx(one)
    assert FAKE.job_seconds(cost, threads=2) == pytest.approx(2.0 + 1000 * 2e-3 + 11 * 4e-3 + 5e9 / 2e10)
    # Two seed batches one after another pay the overheads twice; a lone seed's copy pays FLOPs.
    chunked = dataclasses.replace(cost, batches=2, lanes=5)
    assert FAKE.job_seconds(chunked) == pytest.approx(2.0 + 2 * (1.0 + 0.022) + 5e9 * 5 / 4 / 1e10)
    # A pack of runs is one job with more lanes: one start-up, the members' FLOPs.
    pack = dataclasses.replace(cost, seeds=8, lanes=8, train_flops=8e9, eval_flops=2e9)
    assert FAKE.job_seconds(pack) == pytest.approx(one + 5e9 / 1e10)


def test_small_models_run_at_the_small_products_rate_so_a_packs_extra_lanes_cost_what_they_cost():
    speed = dataclasses.replace(FAKE.speeds[0], small_lane_flops=1e6, large_lane_flops=1e9)
    cal = dataclasses.replace(FAKE, speeds=(speed,))
    assert speed.rate(1e5) == speed.rate(1e6) == 1e9  # at or below the small reference: its rate
    assert speed.rate(1e9) == speed.rate(1e12) == 1e10  # at or above the big one: the big rate
    assert speed.rate(10 ** 7.5) == pytest.approx(10 ** 9.5)  # between: log-log
    # 16 seeds of a small model, then a pack of 4 such runs: 48 more lanes at the small rate, nothing else more.
    run = costs.JobCost(seeds=16, steps=1000, evals=11, params_per_seed=10, train_flops=16 * 1000 * 1e6,
                        eval_flops=0.0, memory_bytes=0.0)
    pack = dataclasses.replace(run, seeds=64, train_flops=64 * 1000 * 1e6)
    assert cal.job_seconds(pack) - cal.job_seconds(run) == pytest.approx(48 * 1000 * 1e6 / 1e9)
    # Without the references' sizes (an older calibration's figures), every model at the big rate.
    assert FAKE.job_seconds(pack) - FAKE.job_seconds(run) == pytest.approx(48 * 1000 * 1e6 / 1e10)


def test_a_jobs_seed_batches_and_lanes_follow_the_trainers_split():
    from refute.scaling import tuning
    from refute.spec.blueprint import blueprint
    from refute.spec.schema import RunSpec

    run = RunSpec.model_validate({
        "task": {"name": "modular_arithmetic", "params": {"p": 97, "train_fraction": 0.3}},
        "model": {"name": "mlp", "params": {"width": 512, "d_embed": 128}},
        "train": {"optimizer": "adamw", "lr": 1e-3, "batch_size": "full", "steps": 10, "eval_every": 10},
        "seeds": 16, "observables": ["loss"]})
    size = tuning.choose(blueprint(run)).seeds_per_chunk
    assert 1 < size < 16  # the trainer splits these seeds (refute.training.loop.fit)
    cost = costs.job_cost(run)
    assert cost.batches == math.ceil(16 / size)
    assert cost.lanes == 16 + (16 % size == 1)  # a lone last seed is trained beside a copy of itself


# --- calibration: measured once per host, bounded, measured again when stale, implausible or loaded -------

def saved(cal=FAKE, **changes) -> dict:
    data = cal.to_json()
    data.update(changes)
    return data


def test_a_current_calibration_is_used_as_cached():
    assert estimate.why_measure_again(saved(), HERE) is None
    assert estimate.Calibration.from_json(json.loads(json.dumps(saved()))) == FAKE


@pytest.mark.parametrize("change, reason", [
    ({"version": 2}, "calibration format"),
    ({"torch": "1.0.0"}, "torch"),
    ({"refute": "0.0.1"}, "refute"),
    ({"cpu": "another CPU"}, "cpu"),
    ({"cores": 64}, "cores"),
    ({"host": "elsewhere"}, "host"),
    ({"measured_epoch": HERE.now - 31 * 86400}, "31 days ago"),
])
def test_a_stale_calibration_is_measured_again(change, reason):
    why = estimate.why_measure_again(saved(**change), HERE)
    assert why.startswith("stale") and reason in why


@pytest.mark.parametrize("speed, reason", [
    ({"flops_per_s": 3.7e19}, "flops_per_s"),  # two timings too close: a difference of noise
    ({"flops_per_s": 0.0}, "flops_per_s"),
    ({"small_flops_per_s": 0.0}, "small_flops_per_s"),
    ({"step_overhead_s": math.nan}, "step_overhead_s"),
    ({"step_overhead_s": 5.0}, "step_overhead_s"),
    ({"eval_s": -1.0}, "eval_s"),
    ({"eval_s": 60.0}, "eval_s"),
])
def test_an_implausible_calibration_is_measured_again(speed, reason):
    cal = dataclasses.replace(FAKE, speeds=(dataclasses.replace(FAKE.speeds[0], **speed), FAKE.speeds[1]))
    why = estimate.why_measure_again(saved(cal), HERE)
    assert why.startswith("implausible") and reason in why
    assert estimate.why_measure_again(saved(startup_s=120.0), HERE).startswith("implausible: startup_s")


def test_a_calibration_measured_under_load_is_measured_again_once_the_machine_is_quieter():
    cores = HERE.cores
    busy = dataclasses.replace(FAKE, load=(3.0 * cores, 2.0, 1.0), measured_epoch=HERE.now - 3600)
    starved = dataclasses.replace(FAKE, cpu_share=0.4, measured_epoch=HERE.now - 3600)
    assert busy.loaded and starved.loaded and not FAKE.loaded
    quiet = dataclasses.replace(HERE, load=(0.1, 0.1, 0.1))
    still_busy = dataclasses.replace(HERE, load=(3.0 * cores, 3.0, 3.0))
    for cal in (busy, starved):
        assert estimate.why_measure_again(saved(cal), quiet).startswith("measured under load")
        assert estimate.why_measure_again(saved(cal), still_busy) is None  # measuring now would be as bad
    just_now = dataclasses.replace(busy, measured_epoch=HERE.now)  # not again on every plan
    assert estimate.why_measure_again(saved(just_now), quiet) is None


def test_the_plan_says_when_and_under_what_load_it_was_calibrated(project, monkeypatch):
    busy = dataclasses.replace(FAKE, load=(6.0, 5.0, 4.0), cpu_share=0.45, measured_at="2026-02-03 04:05:06")
    monkeypatch.setattr(preview, "calibration", lambda directory=None: estimate.Cached(busy, "cached.json"))
    text = preview.plan_text(load_agenda(project / "hypotheses", project / "results"), cores=2)
    assert "calibrated 2026-02-03 04:05:06" in text and "load average 6.00" in text
    assert "45% of the CPU time" in text and "MEASURED UNDER LOAD" in text
    monkeypatch.setattr(preview, "calibration", lambda directory=None: estimate.Cached(FAKE, "cached.json"))
    text = preview.plan_text(load_agenda(project / "hypotheses", project / "results"), cores=2)
    assert "load average 0.10" in text and "UNDER LOAD" not in text


def test_calibrating_is_bounded_in_time(tmp_path, monkeypatch):
    cached = estimate.calibration(tmp_path, budget_s=0.0)
    assert cached.calibration is None and "calibrating took more than 0 s" in cached.note
    assert not estimate.cache_path(tmp_path).exists()  # nothing half-measured is kept
    # A calibration measured under load is kept when measuring again runs out of time.
    busy = dataclasses.replace(FAKE, load=(9.0 * HERE.cores, 1.0, 1.0), measured_epoch=HERE.now - 3600)
    io.write_json(estimate.cache_path(tmp_path), busy.to_json())
    monkeypatch.setattr(estimate, "this_machine", lambda: dataclasses.replace(HERE, load=(0.0, 0.0, 0.0)))
    cached = estimate.calibration(tmp_path, budget_s=0.0)
    assert cached.calibration == busy and "not measured again" in cached.note


def test_a_dry_run_never_measures_and_drops_a_stale_calibration(tmp_path):
    assert estimate.cached_calibration(tmp_path).calibration is None
    io.write_json(estimate.cache_path(tmp_path), saved(torch="0.0"))
    cached = estimate.cached_calibration(tmp_path)
    assert cached.calibration is None and cached.note.startswith("stale")
    busy = dataclasses.replace(FAKE, load=(9.0 * HERE.cores, 1.0, 1.0))
    io.write_json(estimate.cache_path(tmp_path), busy.to_json())
    assert estimate.cached_calibration(tmp_path).calibration == busy  # used, and the plan says so


def test_calibration_is_measured_once_with_its_load_then_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(estimate, "load_average", lambda: (7.5, 6.5, 5.5))
    cached = estimate.calibration(tmp_path, budget_s=600)
    cal = cached.calibration
    assert cached.note.startswith("measured now (not calibrated yet)")
    assert all(s.flops_per_s > 1e8 and s.step_overhead_s > 0 for s in cal.speeds)
    # Small products measured apart, never faster than big ones; the references' sizes recorded with them.
    assert all(0 < s.small_flops_per_s <= s.flops_per_s and 0 < s.small_lane_flops < s.large_lane_flops
               for s in cal.speeds)
    assert {s.threads for s in cal.speeds} == {1, HERE.cores}
    assert cal.startup_s > 0 and cal.light_startup_s > 0 and cal.snakemake_s > 0
    data = json.loads(cached.path.read_text())
    assert data["host"] == platform.node() and data["load"] == [7.5, 6.5, 5.5] and 0 < data["cpu_share"] <= 1
    assert cal.loaded
    again = estimate.calibration(tmp_path)  # still loaded now: the cached one is used, not measured again
    assert again.calibration == cal and again.note == ""


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
