"""The plan, before anything runs: the jobs, the models, the FLOPs, and the wall time on this machine.

FLOPs come from refute.scaling.costs (counted from the run specs). Time on this machine comes from a short
calibration — a few real training steps of a tiny and of a medium model, and one job's interpreter
start-up — cached per host in ~/.cache/refute/, so only the first plan on a machine pays for it.
"""

from __future__ import annotations

import heapq
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
from refute.workflow.agenda import Plan, threads_for

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


# --- what would run ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    kind: str  # train | train_chunk | merge_seeds | stats | report
    target: str  # run hash (and chunk) or hypothesis id
    seconds: float
    cost: costs.JobCost | None = None


def _done(path: Path) -> bool:
    return path.exists()


def pending_jobs(plan: Plan, ids: list[str], cal: Calibration) -> list[Job]:
    """The jobs a run of `ids` needs, judged by which outputs exist (`snakemake -n` also sees edits)."""
    jobs: list[Job] = []
    runs = sorted({h for i in ids for h in plan.hypotheses[i].runs.values()})
    pending_runs = set()
    for h in runs:
        if _done(plan.run_dir(h) / "run.json"):
            continue
        pending_runs.add(h)
        if plan.is_chunked(h):
            for lo, hi in plan.chunks[h]:
                if not _done(plan.run_dir(h) / f"seeds-{lo}-{hi}" / "run.json"):
                    c = plan.job_cost(h, lo, hi)
                    jobs.append(Job("train_chunk", f"{h}/seeds-{lo}-{hi}", cal.job_seconds(c), c))
            jobs.append(Job("merge_seeds", h, cal.startup_s + 1.0))
        else:
            c = plan.job_cost(h)
            jobs.append(Job("train", h, cal.job_seconds(c), c))
    pending_probes = set()
    for i in ids:
        for job in plan.probe_jobs[i]:
            if job.hash in pending_probes:
                continue
            needs = [job.run] + ([job.reference] if job.reference else [])
            if any(r in pending_runs for r in needs) or not _done(plan.probe_dir(job.hash) / "probe.json"):
                pending_probes.add(job.hash)
                # Timed as start-up only: what a probe costs depends on the probe (not estimated).
                jobs.append(Job("probe", job.hash, cal.startup_s))
    for i in ids:
        stale = any(h in pending_runs for h in plan.hypotheses[i].runs.values()) or \
            any(j.hash in pending_probes for j in plan.probe_jobs[i])
        if stale or not _done(plan.results / i / "verdict.json"):
            jobs.append(Job("stats", i, cal.startup_s + 2.0))
        if stale or not _done(plan.results / i / "report.md"):
            jobs.append(Job("report", i, cal.startup_s + 3.0))
    return jobs


def makespan(seconds: list[float], slots: int) -> float:
    """Longest-first list scheduling of independent jobs on `slots` parallel slots."""
    heap = [0.0] * max(1, slots)
    for s in sorted(seconds, reverse=True):
        heapq.heappush(heap, heapq.heappop(heap) + s)
    return max(heap)


def wall_seconds(jobs: list[Job], slots: int) -> float:
    """Training, merging and probes in parallel, then each hypothesis's statistics and report (in parallel)."""
    first = [j.seconds for j in jobs if j.kind in ("train", "train_chunk", "merge_seeds", "probe")]
    per_hyp: dict[str, float] = {}
    for j in jobs:
        if j.kind in ("stats", "report"):
            per_hyp[j.target] = per_hyp.get(j.target, 0.0) + j.seconds
    return makespan(first, slots) + makespan(list(per_hyp.values()), slots)


# --- text -------------------------------------------------------------------------------------------------

def duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def count(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.0f}"


def _shared_with(plan: Plan, h: str, hyp_id: str, cond: str) -> str:
    others = [f"{i}:{c}" for i, c in plan.users[h] if (i, c) != (hyp_id, cond)]
    return f" (shared with {', '.join(others)})" if others else ""


def plan_text(plan: Plan, ids: list[str] | None = None, cores: int | None = None, calibrate_here: bool = True) -> str:
    """The plan of `ids` (default: every hypothesis) as text: per condition its run, seeds, jobs, size and
    estimated time; then the totals for what is not done yet."""
    ids = sorted(plan.hypotheses) if ids is None else ids
    unknown = [i for i in ids if i not in plan.hypotheses]
    if unknown:
        raise KeyError(f"no hypothesis with id {', '.join(map(repr, unknown))}; known: {', '.join(sorted(plan.hypotheses))}")
    threads = max([threads_for(plan.runs[h]) for i in ids for h in plan.hypotheses[i].runs.values()] or [1])
    cores = cores or os.cpu_count() or 1
    cal, cal_path = calibration(threads=threads)
    jobs = pending_jobs(plan, ids, cal)
    pending = {j.target.split("/")[0] for j in jobs if j.kind in ("train", "train_chunk")}

    lines = []
    for i in ids:
        hyp = plan.hypotheses[i]
        lines.append(f"Plan for {i} ({hyp.path}): {hyp.hypothesis.title}")
        # As split (a finished run keeps the split it was trained with).
        per_job = sorted({max(hi - lo for lo, hi in plan.chunks[h]) if plan.is_chunked(h) else 0
                          for h in hyp.runs.values()})
        per_job_text = ", ".join(str(n) if n else "all" for n in per_job)
        lines.append(f"  device: {hyp.hypothesis.compute.device}   seeds per job: {per_job_text}")
        header = ("condition", "run", "seeds", "jobs", "params/seed", "FLOPs", "memory", "limit", "est. time", "status")
        rows = [header]
        for cond, h in hyp.runs.items():
            cost = plan.job_cost(h)
            n_jobs = len(plan.chunks[h]) + plan.is_chunked(h)
            per_job = [plan.job_cost(h, lo, hi) for lo, hi in plan.chunks[h]]
            device = "cuda" if plan.compute[h].device == "cuda" else "cpu"
            status = "to train" if h in pending else "done"
            rows.append((cond, h, str(cost.seeds), str(n_jobs), count(cost.params_per_seed), f"{cost.flops:.2e}",
                         f"{max(costs.mem_mb(c, device) for c in per_job)} MB",
                         f"{max(costs.runtime_min(c, device) for c in per_job)} min",
                         duration(sum(cal.job_seconds(c) for c in per_job)),
                         status + _shared_with(plan, h, i, cond)))
        widths = [max(len(r[k]) for r in rows) for k in range(len(header) - 1)]
        for r in rows:
            lines.append("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1])
        lines.append("")

    kinds = {}
    for j in jobs:
        kinds[j.kind] = kinds.get(j.kind, 0) + 1
    trained = [j for j in jobs if j.cost is not None]
    n_models = sum(j.cost.models for j in trained)
    n_runs = len(pending)
    flops = sum(j.cost.flops for j in trained)
    slots = max(1, cores // threads)
    job_list = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "none"
    lines.append(f"Jobs to run: {len(jobs)} ({job_list})")
    lines.append(f"Models to train: {n_models} ({n_runs} run(s); each seed of a condition is one model)")
    lines.append(f"Compute: {flops:.2e} FLOPs")
    untimed = " (probe jobs counted at start-up only)" if kinds.get("probe") else ""
    lines.append(f"Wall time on this machine ({cal.host}, {cores} core(s), {threads} thread(s) per job): "
                 f"≈ {duration(wall_seconds(jobs, slots)) if jobs else '0s'}{untimed}")
    lines.append(f"  calibrated {cal.measured_at}: {cal.flops_per_s / 1e9:.0f} GFLOP/s per job, "
                 f"{cal.step_overhead_s * 1e3:.2f} ms per step, {cal.startup_s:.1f} s job start-up "
                 f"(delete {cal_path} to measure again)")
    return "\n".join(lines)
