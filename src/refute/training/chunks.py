"""Seed chunks: one run's seeds split across training jobs, and the chunks merged back into the run.

Seeds are independent by construction (own initialization, own minibatches, per-seed loss, elementwise
optimizers), and no kernel's rounding depends on how many seeds share it (see refute.training.loop), so a
chunk's seeds get the same numbers as in the whole run, and the merged run is, bit for bit, what one job
would have written.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from refute import io
from refute.training import snapshots
from refute.training.metric_table import MetricTable

OUTPUTS = ("metrics.parquet", "weights.pt", "snapshots.pt", "run.json")


def split(n_seeds: int, per_job: int | None) -> list[tuple[int, int]]:
    """Contiguous [lo, hi) slices of a run's seed list, at most `per_job` seeds each, as even as possible.

    None (or per_job >= n_seeds) keeps the run whole: [(0, n_seeds)].
    """
    if n_seeds <= 0:
        raise ValueError("a run has at least one seed")
    if per_job is None or per_job >= n_seeds:
        return [(0, n_seeds)]
    if per_job <= 0:
        raise ValueError(f"seeds per job must be > 0, not {per_job}")
    k = math.ceil(n_seeds / per_job)
    bounds = [round(i * n_seeds / k) for i in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def chunk_name(lo: int, hi: int) -> str:
    """Positions in the run's seed list, so the name is fixed by the run hash and the split."""
    return f"seeds-{lo}-{hi}"


def parse_chunk_name(name: str) -> tuple[int, int]:
    m = re.fullmatch(r"seeds-(\d+)-(\d+)", name)
    if not m:
        raise ValueError(f"not a seed chunk folder: {name!r} (expected seeds-LO-HI)")
    return int(m.group(1)), int(m.group(2))


def merge(chunk_dirs: list[str | Path], out_dir: str | Path) -> dict:
    """Write out_dir/{metrics.parquet, weights.pt, snapshots.pt, run.json} from chunk folders given in seed order."""
    import torch

    out = Path(out_dir)
    chunk_dirs = [Path(d) for d in chunk_dirs]
    records = [io.read_json(d / "run.json") for d in chunk_dirs]
    steps = {r["steps"] for r in records}
    if len(steps) != 1:
        raise ValueError(f"chunks of one run trained for different step counts: {sorted(steps)}")

    # The same rows and order fit() writes, by the same writer: the merged file is the one a whole job writes.
    metrics = MetricTable.concat([MetricTable.read(io.verify(d / "metrics.parquet", r, d / "run.json"))
                                  for d, r in zip(chunk_dirs, records)])
    weights = [torch.load(io.verify(d / "weights.pt", r, d / "run.json"), weights_only=True)
               for d, r in zip(chunk_dirs, records)]
    seeds = [s for w in weights for s in w["seeds"]]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"a seed appears in more than one chunk: {seeds}")
    state = {k: torch.cat([w["state"][k] for w in weights]) for k in weights[0]["state"]}
    # Every chunk took its snapshots at the same steps (one run spec): stack each step's seeds likewise.
    snaps = [snapshots.load(io.verify(d / snapshots.FILE, r, d / "run.json").parent) for d, r in zip(chunk_dirs, records)]
    merged_snaps = {step: {k: torch.cat([s[step][k] for s in snaps]) for k in snaps[0][step]} for step in snaps[0]}

    metrics.write(out / "metrics.parquet")
    io.write_torch(out / "weights.pt", {"seeds": seeds, "state": state})
    snapshots.save(out / snapshots.FILE, merged_snaps, seeds)
    record = {
        "seeds": seeds,
        "steps": steps.pop(),
        "diverged": {k: v for r in records for k, v in r.get("diverged", {}).items()},
        "wall_seconds": round(sum(r.get("wall_seconds", 0.0) for r in records), 3),
        # From the first chunk's start to the last one's end (chunks may run side by side, or not).
        "fit_window": [min(r["fit_window"][0] for r in records), max(r["fit_window"][1] for r in records)]
        if all("fit_window" in r for r in records) else None,
        "device": ", ".join(sorted({r.get("device", "?") for r in records})),
        "threads": max(r.get("threads", 1) for r in records),
        "torch": records[0].get("torch"),
        "host": ", ".join(sorted({r.get("host", "?") for r in records})),
        "slurm_job_id": ", ".join(sorted({r["slurm_job_id"] for r in records if r.get("slurm_job_id")})) or None,
        "sha256": io.checksums(out, ["metrics.parquet", "weights.pt", snapshots.FILE]),
        "chunks": [{"slice": list(parse_chunk_name(d.name)),
                    **{k: r.get(k) for k in ("seeds", "wall_seconds", "device", "host", "slurm_job_id")}}
                   for d, r in zip(chunk_dirs, records)],
    }
    io.write_json(out / "run.json", record)  # last: its presence marks a complete run
    return record
