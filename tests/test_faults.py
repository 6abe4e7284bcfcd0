"""Faults: killed jobs, resumed trainings, diverging seeds, damaged results files, repeated runs.

The stages are run the way the rules run them (run_job.train_run, analyse, write_report; a real
`python -m refute.jobs train` process where a kill is involved), on tiny runs, so this file stays fast.
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import analyse_file, run_pipeline, write_yaml
from refute import io
from refute.training.checkpoint import FILE, Checkpoint
from refute.report.html import write_html_report
from refute.report.markdown import write_report
from refute.training.job import train_run
from refute.spec.hashing import run_hash
from refute.spec.schema import RunSpec
from refute.training.loop import fit

QUIET = dict(log=lambda msg: None)


def spec(seeds=(0, 1), **train):
    return RunSpec.model_validate({
        "task": {"name": "modular_arithmetic", "params": {"p": 11, "train_fraction": 0.5}},
        "model": {"name": "mlp", "params": {"width": 32, "d_embed": 8}},
        "train": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1, "steps": 40, "eval_every": 10,
                  "batch_size": 8, **train},
        "seeds": list(seeds),
        "observables": ["loss", "accuracy", "weight_norm"],
    })


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal to the bit, NaNs included (a diverged seed's weights are NaN)."""
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a.view(torch.uint8), b.view(torch.uint8))


def assert_same_result(a, b):
    pd.testing.assert_frame_equal(a.metrics, b.metrics, check_exact=True)
    assert a.state.keys() == b.state.keys()
    for k in a.state:
        assert same_bits(a.state[k], b.state[k]), k
    assert a.diverged == b.diverged
    assert a.snapshots.keys() == b.snapshots.keys()
    for step in a.snapshots:
        assert all(same_bits(a.snapshots[step][k], b.snapshots[step][k]) for k in a.snapshots[step]), step


# ---- checkpoints: resuming gives the uninterrupted numbers, bit for bit ---------------------------------

class Crash(Exception):
    pass


class CrashAfterSaving(Checkpoint):
    """A checkpoint due once, at the top of step `at`, that kills the run right after saving it."""

    def __init__(self, path, key, at):
        super().__init__(path, key, log=lambda m: None)
        self.at, self.steps_seen = at, 0

    def due(self):
        self.steps_seen += 1  # asked once per step, from step 1 of a fresh run
        return self.steps_seen == self.at

    def save(self, state):
        assert state["step"] == self.at
        super().save(state)
        raise Crash


@pytest.mark.parametrize("crash_at", [1, 17, 40])
@pytest.mark.parametrize("optimizer, batch_size", [("adamw", 8), ("sgd", "full")])
def test_a_run_resumed_from_its_checkpoint_is_bit_identical(tmp_path, crash_at, optimizer, batch_size):
    run = spec((0, 3), optimizer={"name": optimizer, **({"params": {"momentum": 0.9}} if optimizer == "sgd" else {})},
               batch_size=batch_size)
    uninterrupted = fit(run, **QUIET)
    with pytest.raises(Crash):
        fit(run, checkpoint=CrashAfterSaving(tmp_path / FILE, run_hash(run), crash_at), **QUIET)
    logged = []
    resumed = fit(run, checkpoint=Checkpoint(tmp_path / FILE, run_hash(run), log=logged.append))
    assert f"resuming from the checkpoint at step {crash_at}" in logged
    assert_same_result(resumed, uninterrupted)


def test_resuming_restores_the_lr_schedule_clipping_online_data_and_snapshots(tmp_path):
    # Fresh examples every step from each seed's generator, a cosine schedule with warmup, clipping,
    # and weight snapshots taken before and after the kill.
    run = RunSpec.model_validate({
        "task": {"name": "sparse_parity", "params": {"n_bits": 12, "k": 2, "n_train": 64, "n_val": 64,
                                                     "online": True}},
        "model": {"name": "mlp", "params": {"width": 16}},
        "train": {"optimizer": "adam", "lr": 0.01, "steps": 40, "eval_every": 10, "batch_size": 8,
                  "schedule": {"name": "cosine", "warmup_steps": 10}, "grad_clip": 0.5, "snapshots": [5, 30]},
        "seeds": [0, 1],
        "observables": ["loss", "accuracy"],
    })
    uninterrupted = fit(run, **QUIET)
    assert sorted(uninterrupted.snapshots) == [5, 30]
    with pytest.raises(Crash):
        fit(run, checkpoint=CrashAfterSaving(tmp_path / FILE, run_hash(run), 23), **QUIET)
    assert_same_result(fit(run, checkpoint=Checkpoint(tmp_path / FILE, run_hash(run), **QUIET)), uninterrupted)


def test_a_checkpoint_of_other_training_or_a_damaged_one_is_ignored(tmp_path):
    run, other = spec(steps=20), spec(steps=20, lr=0.02)
    with pytest.raises(Crash):
        fit(other, checkpoint=CrashAfterSaving(tmp_path / FILE, run_hash(other), 20), **QUIET)
    logged = []
    assert_same_result(fit(run, checkpoint=Checkpoint(tmp_path / FILE, run_hash(run), log=logged.append)),
                       fit(run, **QUIET))
    assert any("belongs to other training" in m for m in logged)

    (tmp_path / FILE).write_bytes(b"\x00garbage")
    logged.clear()
    assert_same_result(fit(run, checkpoint=Checkpoint(tmp_path / FILE, run_hash(run), log=logged.append)),
                       fit(run, **QUIET))
    assert any("ignoring unreadable checkpoint" in m for m in logged)


def test_a_diverged_seed_stays_diverged_across_a_resume(tmp_path):
    run = spec((0, 1, 2, 3), optimizer="sgd", lr=12.0, steps=30, batch_size="full", weight_decay=0.0)
    uninterrupted = fit(run, **QUIET)
    assert uninterrupted.diverged
    with pytest.raises(Crash):
        fit(run, checkpoint=CrashAfterSaving(tmp_path / FILE, run_hash(run), 20), **QUIET)
    assert_same_result(fit(run, checkpoint=Checkpoint(tmp_path / FILE, run_hash(run), **QUIET)), uninterrupted)


# ---- a training job killed with SIGKILL ----------------------------------------------------------------

def start_job(spec_path: Path, out: Path, checkpoint_every: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "refute.jobs", "train", str(spec_path), "--out", str(out),
                             "--checkpoint-every", str(checkpoint_every)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_job_killed_mid_run_leaves_no_output_and_its_rerun_matches_an_uninterrupted_run(tmp_path):
    run = spec((0, 1, 2), steps=1500, eval_every=500, batch_size=16)
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(run.model_dump(mode="json")))
    killed, clean = tmp_path / "killed", tmp_path / "clean"

    job = start_job(spec_path, killed, checkpoint_every=0.05)
    deadline = time.monotonic() + 120
    while not (killed / FILE).exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # let it train (and checkpoint) a little further, then kill it without warning
    assert job.poll() is None, "the job finished before it could be killed; make the run longer"
    job.send_signal(signal.SIGKILL)
    job.wait()
    # Nothing that marks or makes up a finished run exists: the next run cannot mistake it for complete.
    assert not any((killed / name).exists() for name in ("run.json", "metrics.parquet", "weights.pt", "snapshots.pt"))
    assert (killed / FILE).exists()

    rerun = start_job(spec_path, killed, checkpoint_every=0.05)
    log = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, log
    assert "resuming from the checkpoint at step" in log
    assert sorted(p.name for p in killed.iterdir()) == ["metrics.parquet", "run.json", "snapshots.pt", "weights.pt"]

    train_run(spec_path, clean, checkpoint_every=1e9)
    pd.testing.assert_frame_equal(pd.read_parquet(killed / "metrics.parquet"),
                                  pd.read_parquet(clean / "metrics.parquet"), check_exact=True)
    a, b = (torch.load(d / "weights.pt", weights_only=True) for d in (killed, clean))
    assert a["seeds"] == b["seeds"] and all(same_bits(a["state"][k], b["state"][k]) for k in b["state"])
    ra, rb = (json.loads((d / "run.json").read_text()) for d in (killed, clean))
    assert ra["sha256"] == rb["sha256"]  # the very same bytes


def test_leftover_temporary_files_of_a_killed_write_are_cleared(tmp_path):
    run = spec(steps=5)
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(run.model_dump(mode="json")))
    out = tmp_path / "out"
    out.mkdir()
    (out / ".metrics.parquet.abc123.tmp").write_bytes(b"half a file")
    train_run(spec_path, out)
    assert sorted(p.name for p in out.iterdir()) == ["metrics.parquet", "run.json", "snapshots.pt", "weights.pt"]


# ---- a diverging seed ----------------------------------------------------------------------------------

def test_a_diverging_seed_stops_alone_and_the_others_are_untouched():
    # SGD at lr 12 on this task: seeds 0 and 3 blow up, 1 and 2 do not (each the same whatever its batch-mates).
    run = spec((0, 1, 2, 3), optimizer="sgd", lr=12.0, steps=30, batch_size="full", weight_decay=0.0)
    together = fit(run, **QUIET)
    assert sorted(together.diverged) == [0, 3]
    m = together.metrics
    for seed in (0, 1, 2, 3):
        alone = fit(run.model_copy(update={"seeds": [seed]}), **QUIET)
        mine = m[m.seed == seed].reset_index(drop=True)
        if seed in together.diverged:
            step = together.diverged[seed]
            assert alone.diverged == {seed: step}
            assert mine.step.max() <= step  # nothing logged after the divergence
            pd.testing.assert_frame_equal(mine, alone.metrics, check_exact=False, rtol=1e-5, atol=1e-6)
        else:
            assert alone.diverged == {}
            assert sorted(mine.step.unique()) == [0, 10, 20, 30]
            assert mine.value.notna().all()
            pd.testing.assert_frame_equal(mine, alone.metrics, check_exact=False, rtol=1e-5, atol=1e-6)
            i = run.seeds.index(seed)
            assert all(torch.isfinite(v[i]).all() for v in together.state.values())


def test_every_seed_diverging_still_ends_the_job_cleanly(tmp_path):
    run = spec((0, 1), optimizer="sgd", lr=100.0, steps=30, batch_size="full", weight_decay=0.0)
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(run.model_dump(mode="json")))
    record = train_run(spec_path, tmp_path / "out")
    assert set(record["diverged"]) == {"0", "1"}
    metrics = pd.read_parquet(tmp_path / "out" / "metrics.parquet")
    for seed, step in record["diverged"].items():
        assert metrics[metrics.seed == int(seed)].step.max() <= step


def test_a_diverged_seed_makes_the_verdict_invalid_and_is_named(tmp_path, tiny):
    tiny["train"] = {"optimizer": "sgd", "lr": 12.0, "steps": 30, "eval_every": 10}
    tiny["seeds"] = [0, 1, 2, 3]
    tiny["predictions"][0].update(metric="train_loss", direction="less", threshold=10.0)
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    verdict = run_pipeline(tmp_path / "hypotheses", tmp_path / "results")["tiny"]
    assert verdict["verdict"] == "INVALID"
    assert verdict["failures"] == ["condition default, seed 0 diverged (non-finite loss) at step 11",
                                   "condition default, seed 3 diverged (non-finite loss) at step 9"]
    report = (tmp_path / "results" / "tiny" / "report.md").read_text()
    assert "seed 0 @ 11" in report and "seed 3 @ 9" in report


# ---- damaged results files -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One small hypothesis taken through every stage; tests copy it before damaging anything."""
    import copy

    from conftest import TINY

    root = tmp_path_factory.mktemp("finished")
    tiny = copy.deepcopy(TINY)
    tiny["train"]["steps"] = 30
    write_yaml(root / "hypotheses" / "tiny.yaml", tiny)
    run_pipeline(root / "hypotheses", root / "results")
    return root


@pytest.fixture
def project(finished, tmp_path):
    import shutil

    shutil.copytree(finished, tmp_path, dirs_exist_ok=True)
    return tmp_path


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # same length, same footer: parquet itself would not notice
    path.write_bytes(bytes(data))


def run_dir(project: Path) -> Path:
    [d] = (project / "results" / "runs").iterdir()
    return d


@pytest.mark.parametrize("damage", [truncate, flip_a_byte, Path.unlink])
def test_a_damaged_metrics_file_stops_the_statistics(project, damage):
    damage(run_dir(project) / "metrics.parquet")
    with pytest.raises(io.CorruptOutput, match=r"metrics\.parquet is (corrupt or truncated|missing)"):
        analyse_file(project / "hypotheses" / "tiny.yaml", project / "results")


def test_a_truncated_run_record_stops_the_statistics(project):
    truncate(run_dir(project) / "run.json")
    with pytest.raises(io.CorruptOutput, match=r"run\.json is corrupt or truncated"):
        analyse_file(project / "hypotheses" / "tiny.yaml", project / "results")


@pytest.mark.parametrize("name, damage", [
    *[(name, damage) for name in ("observations.parquet", "reduced.parquet", "predictions.json")
      for damage in (truncate, flip_a_byte)],
    ("verdict.json", truncate),  # the record itself: only what no longer parses can be told apart
])
@pytest.mark.parametrize("report", [write_report, write_html_report], ids=["markdown", "html"])
def test_a_damaged_statistics_file_stops_the_report(project, name, damage, report):
    path = project / "results" / "tiny" / name
    damage(path)
    with pytest.raises(io.CorruptOutput, match=name.replace(".", r"\.")):
        report("tiny", project / "results")


def test_the_damage_message_says_how_to_recover(project):
    path = run_dir(project) / "metrics.parquet"
    truncate(path)
    with pytest.raises(io.CorruptOutput) as exc:
        analyse_file(project / "hypotheses" / "tiny.yaml", project / "results")
    assert str(exc.value).endswith(f"delete {path.parent} and run the workflow again to recompute it")


def test_results_written_before_checksums_were_kept_are_still_read(project):
    record = run_dir(project) / "run.json"
    meta = json.loads(record.read_text())
    del meta["sha256"]
    record.write_text(json.dumps(meta))
    assert analyse_file(project / "hypotheses" / "tiny.yaml", project / "results")["verdict"] == "SUPPORTED"


# ---- determinism ---------------------------------------------------------------------------------------

def test_the_same_hypothesis_twice_gives_bit_identical_tables(finished, tmp_path):
    import shutil

    shutil.copytree(finished / "hypotheses", tmp_path / "hypotheses")
    run_pipeline(tmp_path / "hypotheses", tmp_path / "results")
    a, b = finished / "results", tmp_path / "results"
    [run] = [p.name for p in (a / "runs").iterdir()]
    assert io.sha256(a / "runs" / run / "metrics.parquet") == io.sha256(b / "runs" / run / "metrics.parquet")
    assert io.sha256(a / "runs" / run / "weights.pt") == io.sha256(b / "runs" / run / "weights.pt")
    for name in ("observations.parquet", "reduced.parquet", "predictions.json"):
        assert io.sha256(a / "tiny" / name) == io.sha256(b / "tiny" / name), name
