"""The plan, before anything runs: the jobs, the models, the FLOPs, and the wall time on this machine.

FLOPs come from refute.scaling.costs (counted from the run specs). Time on this machine comes from a short
calibration — a few real training steps of a tiny and of a medium model, and one job's interpreter
start-up — cached per host in ~/.cache/refute/, so only the first plan on a machine pays for it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from refute.scaling import costs

CALIBRATION_VERSION = 2


@dataclass(frozen=True)
class Calibration:
    """How fast this machine trains: seconds = steps × (overhead + FLOPs/rate) + start-up."""

    flops_per_s: float  # per job, at `threads` threads
    step_overhead_s: float  # fixed cost of one optimizer step or evaluation (kernel launches, Python)
    startup_s: float  # starting one job's interpreter and importing torch, pandas, pyarrow
    threads: int
    host: str
    torch: str
    measured_at: str

    def job_seconds(self, cost: costs.JobCost) -> float:
        compute = cost.flops / self.flops_per_s + self.step_overhead_s * (cost.steps + cost.evals)
        return self.startup_s + compute


def _reference(p: int, width: int, d_embed: int, seeds: int, steps: int, fraction: float):
    from refute.spec.schema import RunSpec

    return RunSpec.model_validate({
        "task": {"name": "modular_arithmetic", "params": {"p": p, "train_fraction": fraction}},
        "model": {"name": "mlp", "params": {"width": width, "d_embed": d_embed}},
        "train": {"lr": 1e-3, "steps": steps, "eval_every": steps},
        "seeds": seeds,
        "observables": ["loss", "accuracy"],
    })


def _step_seconds(small: int, large: int, **ref) -> tuple[float, float]:
    """(seconds per training step, FLOPs per step) of a reference run; the difference of two budgets
    cancels set-up and the two evaluations each makes."""
    from refute.training.loop import fit

    fit(_reference(steps=small, **ref), log=lambda msg: None)  # warm-up: lazy imports, allocator
    times = []
    for steps in (small, large):
        run = _reference(steps=steps, **ref)
        best = math.inf
        for _ in range(2):  # the faster of two: less noise from whatever else the machine is doing
            t0 = time.perf_counter()
            fit(run, log=lambda msg: None)
            best = min(best, time.perf_counter() - t0)
        times.append(best)
    cost = costs.job_cost(_reference(steps=1, **ref))
    return max(times[1] - times[0], 1e-9) / (large - small), cost.train_flops


def calibrate(threads: int = 1) -> Calibration:
    """Measure this machine: a tiny model gives the per-step overhead, a grokking-sized one the FLOP rate."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        t_small, f_small = _step_seconds(20, 60, p=11, width=8, d_embed=4, seeds=1, fraction=0.5)
        t_big, f_big = _step_seconds(3, 9, p=97, width=256, d_embed=64, seeds=2, fraction=0.3)
    finally:
        torch.set_num_threads(before)
    if t_big > t_small:
        rate = (f_big - f_small) / (t_big - t_small)
        overhead = max(t_small - f_small / rate, 0.0)
    else:  # too noisy to separate: charge everything to FLOPs
        rate, overhead = f_big / t_big, 0.0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import refute.training.job, refute.training.loop, torch, pandas, pyarrow.parquet"],
                   check=True)
    startup = time.perf_counter() - t0
    return Calibration(rate, overhead, startup, threads, platform.node(), torch.__version__,
                       time.strftime("%Y-%m-%d %H:%M:%S"))


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "refute"


def calibration(directory: str | Path | None = None, threads: int = 1) -> tuple[Calibration, Path]:
    """This host's calibration, measured once and cached (default ~/.cache/refute/; delete the file to redo)."""
    path = Path(directory or cache_dir()) / f"calibration-{platform.node()}-t{threads}.json"
    if path.exists():
        data = json.loads(path.read_text())
        # Compared by package metadata: a cached plan does not pay for importing torch.
        if data.pop("version", None) == CALIBRATION_VERSION and data.get("torch") == metadata.version("torch"):
            return Calibration(**data), path
    cal = calibrate(threads)
    from refute import io

    io.write_json(path, {"version": CALIBRATION_VERSION, **asdict(cal)})
    return cal, path


def cached_calibration(directory: str | Path | None = None, threads: int = 1) -> tuple[Calibration | None, Path]:
    """This host's calibration if one is cached and current, else None: never measures (a dry run must
    not train anything)."""
    path = Path(directory or cache_dir()) / f"calibration-{platform.node()}-t{threads}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None, path
    if data.pop("version", None) == CALIBRATION_VERSION and data.get("torch") == metadata.version("torch"):
        return Calibration(**data), path
    return None, path

