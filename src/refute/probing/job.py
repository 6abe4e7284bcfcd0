"""The probe stage as a job: one probe on one run's weights, at each requested step, batched over seeds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from refute import io
from refute.training import snapshots
from refute.components.probes import VALUE_COLUMNS, ProbeContext, steps_of
from refute.components.models import build_model
from refute.components.probes import PROBES
from refute.components.probes import ProbeSpec
from refute.spec.schema import RunSpec


def load_run(results: Path, run_hash: str):
    """A run's spec, seeds, divergences and its weights at every kept step (final and snapshots)."""
    import torch

    run_dir = results / "runs" / run_hash
    run = RunSpec.model_validate(json.loads((run_dir / "spec.json").read_text()))
    record = run_dir / "run.json"
    meta = io.read_json(record)
    final = torch.load(io.verify(run_dir / "weights.pt", meta, record), weights_only=True)
    io.verify(run_dir / snapshots.FILE, meta, record)
    states = {**snapshots.load(run_dir), run.train.steps: final["state"]}
    return run, run_dir, final["seeds"], meta, states


def context(run: RunSpec, run_dir, seeds, states, step: int, **extra) -> ProbeContext:
    from refute.components.probes import task_data

    data = task_data(run)
    model = build_model(run, data, seeds)
    model.load_state_dict(states[step])
    model.eval()
    return ProbeContext(run, data, model, list(seeds), step, run_dir, states=states, **extra)


def probe_run(spec_path: str | Path, out_dir: str | Path, results: str | Path = "results", threads: int = 1) -> dict:
    """Write values.parquet (seed, step, metric, site, unit, value) and probe.json into out_dir."""
    import torch
    from pydantic import TypeAdapter

    torch.set_num_threads(max(1, threads))
    t0 = time.perf_counter()
    results, out = Path(results), Path(out_dir)
    job = json.loads(Path(spec_path).read_text())
    probe = TypeAdapter(ProbeSpec).validate_python(job["probe"])
    impl = PROBES.get(probe.name).impl
    run, run_dir, seeds, meta, states = load_run(results, job["run"])
    ref = load_run(results, job["reference"]) if job.get("reference") else None

    frames, started = [], time.time()
    for step in steps_of(probe, run):
        reference = context(ref[0], ref[1], ref[2], ref[4], step) if ref else None
        ctx = context(run, run_dir, seeds, states, step, reference=reference, out_dir=out)
        frames.append(impl.compute(probe, ctx).frame(step))
        print(f"{probe.name}: step {step} done ({time.perf_counter() - t0:.1f}s)", flush=True)
    finished = time.time()
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=VALUE_COLUMNS)
    # A diverged seed's weights are not finite from its divergence on: no probe values there.
    diverged = {int(s): step for s, step in meta.get("diverged", {}).items()}
    if ref:
        for s, step in ref[3].get("diverged", {}).items():
            diverged[int(s)] = min(step, diverged.get(int(s), step))
    if diverged and len(table):
        first_bad = table.seed.map(diverged).astype(float).fillna(float("inf"))
        table = table[table.step < first_bad]
    io.write_parquet(out / "values.parquet", table.reset_index(drop=True))
    record = {"probe": probe.name, "run": job["run"], "reference": job.get("reference"),
              "steps": steps_of(probe, run), "rows": len(table), "wall_seconds": round(time.perf_counter() - t0, 3),
              "compute_window": [round(started, 3), round(finished, 3)],  # unix times of the probe's own work
              "sha256": io.checksums(out, ["values.parquet"])}
    io.write_json(out / "probe.json", record)  # last: marks the probe job complete; its checksum guards the table
    return record
