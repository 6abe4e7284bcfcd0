"""The training stage as a job: read a run spec, train its seeds, write its outputs atomically."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from refute import io, snapshots
from refute.spec.schema import run_spec_model


def train_run(spec_path: str | Path, out_dir: str | Path, threads: int = 1, device: str = "auto",
              seeds: slice | None = None) -> dict:
    """Write metrics.parquet (seed, step, metric, value), weights.pt, snapshots.pt and run.json into out_dir.

    `device` is the hypothesis's request (auto | cpu | cuda); `seeds` trains only that slice of the
    run's seed list (one chunk of a run split across jobs).
    """
    import torch

    from refute import devices
    from refute.train import fit

    torch.set_num_threads(max(1, threads))
    out = Path(out_dir)
    run = run_spec_model().model_validate(json.loads(Path(spec_path).read_text()))
    if seeds is not None:
        chunk = list(run.seeds)[seeds]
        if not chunk:
            raise ValueError(f"seed slice {seeds.start}:{seeds.stop} of a run with {len(run.seeds)} seeds is empty")
        run = run.model_copy(update={"seeds": chunk})
    where = devices.resolve(device)
    print(f"training {len(run.seeds)} seed(s) on {devices.describe(where)}", flush=True)
    result = fit(run, log=lambda msg: print(msg, flush=True), device=where)
    io.write_parquet(out / "metrics.parquet", result.metrics)
    with io.atomic_path(out / "weights.pt") as tmp:
        torch.save({"seeds": result.seeds, "state": result.state}, tmp)
    snapshots.save(out / snapshots.FILE, result.snapshots, result.seeds)
    record = {
        "seeds": result.seeds,
        "steps": run.train.steps,
        "diverged": {str(s): step for s, step in result.diverged.items()},
        "wall_seconds": round(result.wall_seconds, 3),
        "device": devices.describe(where),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "host": platform.node(),
        # Which scheduler job trained it, if any: provenance, and proof a cluster run went through SLURM.
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
    # run.json last: its presence marks a complete run.
    io.write_json(out / "run.json", record)
    return record
