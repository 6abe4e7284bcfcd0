"""The training stage as a job: read a run spec (or a pack of them), train its seeds, write each run's outputs
atomically."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from refute import io
from refute.training import snapshots
from refute.spec.schema import RunSpec


def train_run(spec_path: str | Path, out_dir: str | Path, threads: int = 1, checkpoint_every: float = 300.0,
              device: str = "auto", seeds: slice | None = None) -> dict:
    """Write metrics.parquet (seed, step, metric, value), weights.pt, snapshots.pt and run.json into out_dir.

    Every `checkpoint_every` seconds the job saves out_dir/checkpoint.pt; a rerun after a crash or a
    kill resumes from it and ends with the same numbers. It is removed once the outputs are complete.
    `device` is the hypothesis's request (auto | cpu | cuda); `seeds` trains only that slice of the
    run's seed list (one chunk of a run split across jobs).

    `spec_path` may instead be a pack file (refute.layout.PACK_SPEC): then every run it names is trained as one
    batched model and writes its outputs in its own folder, and out_dir is the pack's folder (its checkpoint).
    """
    import torch

    from refute.scaling import blas, cpus, devices
    from refute.training.checkpoint import FILE, Checkpoint
    from refute.spec.hashing import run_hash
    from refute.training.loop import fit_pack
    from refute.training.progress import FILE as PROGRESS
    from refute.training.progress import ProgressWriter

    # Snakemake's count (never more than its --cores), bounded by the CPUs this job was given (taskset, a
    # cgroup quota, SLURM): a thread without a core of its own only makes the others wait.
    torch.set_num_threads(max(1, min(threads, cpus.allotted())))
    out = Path(out_dir)
    raw = json.loads(Path(spec_path).read_text())
    pack = raw.get("pack") if isinstance(raw, dict) else None
    if pack:
        dirs = [Path(d) for d in raw["runs"]]
        runs = [RunSpec.model_validate(json.loads((d / "spec.json").read_text())) for d in dirs]
        key = pack
    else:
        run = RunSpec.model_validate(raw)
        if seeds is not None:
            chunk = list(run.seeds)[seeds]
            if not chunk:
                raise ValueError(f"seed slice {seeds.start}:{seeds.stop} of a run with {len(run.seeds)} seeds is empty")
            run = run.model_copy(update={"seeds": chunk})
        dirs, runs, key = [out], [run], run_hash(run)
    where = devices.resolve(device)
    if where == "cpu" and blas.reproducible() is False:
        # A stored run's numbers must not depend on what it was trained beside (its hash names them).
        raise RuntimeError(blas.NOT_REPRODUCIBLE)
    lanes = sum(len(r.seeds) for r in runs)
    print(f"training {lanes} seed(s)" + (f" of {len(runs)} runs as one batched model" if pack else "")
          + f" on {devices.describe(where)}", flush=True)
    for folder in {out, *dirs}:
        for stale in folder.glob(".*.tmp"):  # half-written by a killed job; never read, only in the way
            stale.unlink()
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    checkpoint = Checkpoint(out / FILE, key=key, every_seconds=checkpoint_every, log=log)
    started = time.time()
    # For people watching while it trains; never checksummed. It exists only while the job trains: a failed
    # or interrupted job removes it (and the folder it made for it), a finished one once run.json is written.
    made = [d for d in dirs if not d.exists()]
    progress = [ProgressWriter(d / PROGRESS) for d in dirs]
    try:
        results = fit_pack(runs, log=log, checkpoint=checkpoint, device=where, progress=progress)
    except BaseException:
        for p, d in zip(progress, dirs):
            p.close()
            (d / PROGRESS).unlink(missing_ok=True)
        for d in made:
            if not any(d.iterdir()):
                d.rmdir()
        raise
    for p in progress:
        p.close()
    finished = time.time()
    common = {
        "fit_window": [round(started, 3), round(finished, 3)],  # unix times of this job's training
        "device": devices.describe(where),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "host": platform.node(),
        # Which scheduler job trained it, if any: provenance, and proof a cluster run went through SLURM.
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
    if pack:  # provenance: the runs it shared a batched model with (never its numbers: see refute.training.lanes)
        common["pack"] = {"id": pack, "runs": [d.name for d in dirs]}
    records = [_write_outputs(d, r, result, common) for d, r, result in zip(dirs, runs, results)]
    checkpoint.remove()
    for d in dirs:
        (d / PROGRESS).unlink(missing_ok=True)  # superseded by metrics.parquet
    return records[0] if not pack else {"runs": {d.name: r for d, r in zip(dirs, records)}}


def _write_outputs(out: Path, run: RunSpec, result, common: dict) -> dict:
    """One run's outputs, run.json last: its presence marks a complete run, and its checksums let readers
    detect damage."""
    result.table.write(out / "metrics.parquet")
    io.write_torch(out / "weights.pt", {"seeds": result.seeds, "state": result.state})
    snapshots.save(out / snapshots.FILE, result.snapshots, result.seeds)
    record = {
        "seeds": result.seeds,
        "steps": run.train.steps,
        "diverged": {str(s): step for s, step in result.diverged.items()},
        "wall_seconds": round(result.wall_seconds, 3),
        **common,
        "sha256": io.checksums(out, ["metrics.parquet", "weights.pt", snapshots.FILE]),
    }
    io.write_json(out / "run.json", record)
    return record
