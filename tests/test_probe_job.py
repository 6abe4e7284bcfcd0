"""The probe job on a run's folder: every requested step, every seed, and no values from diverged weights."""

import json

import pandas as pd

from refute.probing.job import probe_run
from refute.training.job import train_run
from refute.spec.hashing import run_hash
from refute.spec.schema import RunSpec


def trained(results, **train):
    run = RunSpec.model_validate({
        "task": {"name": "modular_arithmetic", "params": {"p": 11, "train_fraction": 0.5}},
        "model": {"name": "mlp", "params": {"width": 16, "d_embed": 4}},
        "train": {"lr": 0.01, "steps": 30, "eval_every": 10, "snapshots": [0, 10, 20], **train},
        "seeds": [0, 1],
        "observables": ["loss"],
    })
    h = run_hash(run)
    run_dir = results / "runs" / h
    run_dir.mkdir(parents=True)
    (run_dir / "spec.json").write_text(json.dumps(run.model_dump(mode="json")))
    train_run(run_dir / "spec.json", run_dir)
    return h


def probe(results, run, **spec):
    job = results / "probes" / "job"
    job.mkdir(parents=True, exist_ok=True)
    (job / "spec.json").write_text(json.dumps({"version": 1, "run": run, "reference": None, "probe": spec}))
    record = probe_run(job / "spec.json", job, results)
    return pd.read_parquet(job / "values.parquet"), record


def test_a_probe_at_snapshots_covers_every_kept_step_and_seed(tmp_path):
    run = trained(tmp_path)
    values, record = probe(tmp_path, run, name="fourier", steps="snapshots")
    assert record["steps"] == [0, 10, 20, 30]
    summary = values[values.unit == ""]
    assert sorted(summary.step.unique()) == [0, 10, 20, 30]
    assert summary.groupby("step").seed.apply(sorted).tolist() == [[0, 0, 1, 1]] * 4  # two metrics per seed


def test_a_diverged_seed_has_no_probe_values_from_its_divergence_on(tmp_path):
    run = trained(tmp_path, lr=50.0, optimizer={"name": "sgd"})
    meta = json.loads((tmp_path / "runs" / run / "run.json").read_text())
    assert meta["diverged"], "expected lr 50 with SGD to diverge"
    values, _ = probe(tmp_path, run, name="fourier", steps="snapshots")
    for seed, step in meta["diverged"].items():
        assert (values[values.seed == int(seed)].step < step).all()
