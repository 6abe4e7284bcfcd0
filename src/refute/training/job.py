"""The training stage as a job: read a run spec, train its seeds, write its outputs atomically."""

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
    """
    import torch

    from refute.scaling import devices

    from refute.training.checkpoint import FILE, Checkpoint
    from refute.spec.hashing import run_hash
    from refute.training.loop import fit
    from refute.training.progress import FILE as PROGRESS
    from refute.training.progress import ProgressWriter

    torch.set_num_threads(max(1, threads))
    out = Path(out_dir)
    run = RunSpec.model_validate(json.loads(Path(spec_path).read_text()))
    if seeds is not None:
        chunk = list(run.seeds)[seeds]
        if not chunk:
            raise ValueError(f"seed slice {seeds.start}:{seeds.stop} of a run with {len(run.seeds)} seeds is empty")
        run = run.model_copy(update={"seeds": chunk})
    where = devices.resolve(device)
    print(f"training {len(run.seeds)} seed(s) on {devices.describe(where)}", flush=True)
    for stale in out.glob(".*.tmp"):  # half-written by a killed job; never read, only in the way
        stale.unlink()
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    checkpoint = Checkpoint(out / FILE, key=run_hash(run), every_seconds=checkpoint_every, log=log)
    started = time.time()
    # For people watching while it trains; never checksummed. It exists only while the job trains: a failed
    # or interrupted job removes it (and the folder it made for it), a finished one once run.json is written.
    made_dir = not out.exists()
    progress = ProgressWriter(out / PROGRESS)
    try:
        result = fit(run, log=log, checkpoint=checkpoint, device=where, progress=progress)
    except BaseException:
        progress.close()
        (out / PROGRESS).unlink(missing_ok=True)
        if made_dir and not any(out.iterdir()):
            out.rmdir()
        raise
    progress.close()
    finished = time.time()
    io.write_parquet(out / "metrics.parquet", result.metrics)
    io.write_torch(out / "weights.pt", {"seeds": result.seeds, "state": result.state})
    snapshots.save(out / snapshots.FILE, result.snapshots, result.seeds)
    record = {
        "seeds": result.seeds,
        "steps": run.train.steps,
        "diverged": {str(s): step for s, step in result.diverged.items()},
        "wall_seconds": round(result.wall_seconds, 3),
        "fit_window": [round(started, 3), round(finished, 3)],  # unix times of this job's training
        "device": devices.describe(where),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "host": platform.node(),
        "sha256": io.checksums(out, ["metrics.parquet", "weights.pt", snapshots.FILE]),
        # Which scheduler job trained it, if any: provenance, and proof a cluster run went through SLURM.
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
    # run.json last: its presence marks a complete run, and its checksums let readers detect damage.
    io.write_json(out / "run.json", record)
    checkpoint.remove()
    (out / PROGRESS).unlink(missing_ok=True)  # superseded by metrics.parquet
    return record
