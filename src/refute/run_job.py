"""The training stage as a job: read a run spec, train its seeds, write its outputs atomically."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from refute import io, snapshots
from refute.spec.schema import run_spec_model


def train_run(spec_path: str | Path, out_dir: str | Path, threads: int = 1) -> dict:
    """Write metrics.parquet (seed, step, metric, value), weights.pt, snapshots.pt and run.json into out_dir."""
    import torch

    from refute.train import fit

    torch.set_num_threads(max(1, threads))
    out = Path(out_dir)
    run = run_spec_model().model_validate(json.loads(Path(spec_path).read_text()))
    result = fit(run, log=lambda msg: print(msg, flush=True))
    io.write_parquet(out / "metrics.parquet", result.metrics)
    with io.atomic_path(out / "weights.pt") as tmp:
        torch.save({"seeds": result.seeds, "state": result.state}, tmp)
    snapshots.save(out / snapshots.FILE, result.snapshots, result.seeds)
    record = {
        "seeds": result.seeds,
        "steps": run.train.steps,
        "diverged": {str(s): step for s, step in result.diverged.items()},
        "wall_seconds": round(result.wall_seconds, 3),
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "host": platform.node(),
    }
    # run.json last: its presence marks a complete run.
    io.write_json(out / "run.json", record)
    return record
