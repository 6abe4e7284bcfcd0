"""How fast this machine trains, measured once per host and cached in ~/.cache/refute/.

A training job of JobCost `c` at `t` threads takes

    start-up + c.batches × (c.steps × step overhead(t) + c.evals × evaluation overhead(t))
             + c.computed_flops / rate(t, a lane's FLOPs per step)

(refute.scaling.costs: a job trains its seeds as `batches` batched models, `lanes` models in all, so a pack of
runs is a job with more lanes). The terms are measured on the real training loop: the per-step and
per-evaluation overhead on a small model (the sparse parity MLP of benchmarks/trainer_speed.py) at 16 and at 64
lanes, the FLOP rate on a matmul-bound one (a grokking MLP), each at one thread and at every core; and the
start-up of a training job (interpreter, torch, pandas) and of an analysis job (no torch), and Snakemake's own.
Small products run far below the big-matrix FLOP rate (many small matrices per batched kernel, fresh random
bits per lane): the small model's 16 -> 64 lanes gives its own rate, and a lane between the two references'
sizes gets a rate between theirs (log-log), so a pack's extra lanes cost what they cost.

Measuring is bounded (BUDGET_S) and remembered with the load it was measured under. A cached calibration is
measured again when it is stale (another calibration format, torch, refute, CPU or core count, or older than
MAX_AGE_DAYS), implausible (a figure outside BOUNDS), or was measured under load (LOADED_PER_CORE, MIN_CPU_SHARE)
while the machine is quieter now: see `why_measure_again`.
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
from typing import TYPE_CHECKING

from refute.scaling import costs

if TYPE_CHECKING:
    from refute.spec.schema import RunSpec

CALIBRATION_VERSION = 4
# Calibrating stops after this long (20-30 s on an idle 2-core machine); past it, no new calibration.
BUDGET_S = 60.0
MAX_AGE_DAYS = 30
# Measured under load: a 1-minute load average above this per core before measuring, or a share of the
# measuring threads' CPU time below MIN_CPU_SHARE (other processes took the rest).
LOADED_PER_CORE = 1.0
MIN_CPU_SHARE = 0.7
# A loaded calibration is measured again, when the machine is quieter, at most this often.
RETRY_LOADED_S = 600.0
# Sane ranges: a figure outside one is a failed measurement (a clock jump, a suspended process, two timings too
# close to tell apart), not a machine; a slow figure within them is load, judged by `loaded`.
BOUNDS = {
    "flops_per_s": (1e8, 1e15),
    "small_flops_per_s": (1e6, 1e15),
    "step_overhead_s": (1e-6, 0.5),  # ~1 ms idle; tens of ms when threads fight other processes (loaded)
    "eval_s": (0.0, 5.0),
    "startup_s": (0.05, 30.0),
    "light_startup_s": (0.02, 30.0),
    "snakemake_s": (0.05, 60.0),
}


class CalibrationTimeout(RuntimeError):
    """Calibrating ran past its budget (a very slow or very busy machine)."""


@dataclass(frozen=True)
class Speed:
    """Training speed at one thread count."""

    threads: int
    flops_per_s: float  # per job
    step_overhead_s: float  # one optimizer step of a batched model, besides its FLOPs (kernel launches, Python)
    eval_s: float  # one evaluation point, besides its FLOPs (observables, copies to numpy)
    # The small reference's own FLOP rate and the FLOPs per lane per step of both references (0: the big rate for all).
    small_flops_per_s: float = 0.0
    small_lane_flops: float = 0.0
    large_lane_flops: float = 0.0

    def rate(self, lane_flops: float) -> float:
        """FLOP rate for a model of `lane_flops` training FLOPs per lane per step."""
        if not (0 < self.small_flops_per_s < self.flops_per_s and 0 < self.small_lane_flops < self.large_lane_flops):
            return self.flops_per_s
        if lane_flops <= self.small_lane_flops:
            return self.small_flops_per_s
        if lane_flops >= self.large_lane_flops:
            return self.flops_per_s
        x = math.log(lane_flops / self.small_lane_flops) / math.log(self.large_lane_flops / self.small_lane_flops)
        return math.exp((1 - x) * math.log(self.small_flops_per_s) + x * math.log(self.flops_per_s))


@dataclass(frozen=True)
class Calibration:
    speeds: tuple[Speed, ...]
    startup_s: float  # a training job's start: interpreter, torch, pandas, pyarrow, refute's training modules
    light_startup_s: float  # an analysis job's start (statistics, report): no torch
    snakemake_s: float  # Snakemake's own start: interpreter and its imports (the DAG is counted per job)
    host: str
    cpu: str
    cores: int
    torch: str
    refute: str
    measured_at: str  # local time, for people
    measured_epoch: float
    seconds: float  # how long measuring took
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)  # load average (1, 5, 15 min) just before measuring
    cpu_share: float = 1.0  # CPU time the measuring threads got / (wall time × threads)

    def speed(self, threads: int) -> Speed:
        """The speed measured at the thread count nearest `threads` (below it on a tie)."""
        return min(self.speeds, key=lambda s: (abs(s.threads - threads), s.threads))

    def job_seconds(self, cost: costs.JobCost, threads: int = 1) -> float:
        """A training job's wall time at `threads` threads, start-up included."""
        s = self.speed(threads)
        overhead = cost.batches * (cost.steps * s.step_overhead_s + cost.evals * s.eval_s)
        return self.startup_s + overhead + cost.computed_flops / s.rate(cost.seed_step_flops)

    @property
    def loaded(self) -> bool:
        return self.load[0] / max(self.cores, 1) > LOADED_PER_CORE or self.cpu_share < MIN_CPU_SHARE

    def describe(self) -> str:
        """When, and under what load, it was measured (the plan's last lines)."""
        rates = ", ".join(f"{s.flops_per_s / 1e9:.0f} GFLOP/s ({s.small_flops_per_s / 1e9:.0f} on small products) "
                          f"and {s.step_overhead_s * 1e3:.2f} ms per step at {s.threads} thread(s)" for s in self.speeds)
        state = ("MEASURED UNDER LOAD: estimates are pessimistic for a quiet machine; measured again when it is"
                 if self.loaded else "an idle machine")
        return (f"calibrated {self.measured_at} in {self.seconds:.0f} s, load average {self.load[0]:.2f} on "
                f"{self.cores} core(s), {100 * self.cpu_share:.0f}% of the CPU time measured ({state}): {rates}; "
                f"job start-up {self.startup_s:.1f} s (training), {self.light_startup_s:.1f} s (analysis)")

    def to_json(self) -> dict:
        return {"version": CALIBRATION_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict) -> Calibration:
        data = {k: v for k, v in data.items() if k != "version"}
        data["speeds"] = tuple(Speed(**s) for s in data["speeds"])
        data["load"] = tuple(data["load"])
        return cls(**data)


# --- this machine ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Machine:
    """What a calibration is valid for, and the machine's state now."""

    host: str
    cpu: str
    cores: int
    torch: str
    refute: str
    now: float
    load: tuple[float, float, float]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> tuple[float, float, float]:
    try:
        return tuple(round(x, 2) for x in os.getloadavg())  # type: ignore[return-value]
    except OSError:  # not available (Windows)
        return (0.0, 0.0, 0.0)


def this_machine() -> Machine:
    # By package metadata: a plan that reads a cached calibration does not pay for importing torch.
    from refute.scaling import cpus

    return Machine(platform.node(), cpu_name(), cpus.allotted(), _version("torch"), _version("refute"),
                   time.time(), load_average())


def why_measure_again(data: dict, here: Machine) -> str | None:
    """Why a cached calibration (its JSON) must not be used on `here`, or None when it may be."""
    if data.get("version") != CALIBRATION_VERSION:
        return f"stale: calibration format {data.get('version')}, now {CALIBRATION_VERSION}"
    for key in ("host", "cpu", "cores", "torch", "refute"):
        if data.get(key) != getattr(here, key):
            return f"stale: measured with {key} {data.get(key)!r}, now {getattr(here, key)!r}"
    age_days = (here.now - float(data.get("measured_epoch", 0))) / 86400
    if age_days > MAX_AGE_DAYS:
        return f"stale: measured {age_days:.0f} days ago (at most {MAX_AGE_DAYS})"
    try:
        cal = Calibration.from_json(data)
    except (KeyError, TypeError, ValueError) as err:
        return f"unreadable: {err}"
    figures = [("startup_s", cal.startup_s), ("light_startup_s", cal.light_startup_s),
               ("snakemake_s", cal.snakemake_s)]
    for s in cal.speeds:
        figures += [("flops_per_s", s.flops_per_s), ("small_flops_per_s", s.small_flops_per_s),
                    ("step_overhead_s", s.step_overhead_s), ("eval_s", s.eval_s)]
    for name, value in figures:
        lo, hi = BOUNDS[name]
        if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
            return f"implausible: {name} = {value!r}, outside [{lo:g}, {hi:g}]"
    quiet_now = here.load[0] / max(here.cores, 1) <= LOADED_PER_CORE
    if cal.loaded and quiet_now and here.now - cal.measured_epoch > RETRY_LOADED_S:
        return (f"measured under load (load average {cal.load[0]:.2f}, {100 * cal.cpu_share:.0f}% of the CPU), "
                f"quieter now ({here.load[0]:.2f})")
    return None


# --- measuring ---------------------------------------------------------------------------------------------

NARROW, WIDE = 16, 64  # lanes of the small reference's two measurements


def _small(steps: int, eval_every: int, seeds: int = NARROW):
    """The per-step overhead's reference: benchmarks/trainer_speed.py's small regime, NARROW seeds (WIDE: a pack of 4)."""
    from refute.spec.schema import RunSpec

    return RunSpec.model_validate({
        "task": {"name": "sparse_parity", "params": {"n_bits": 40, "k": 3, "online": True, "n_train": 256,
                                                     "n_val": 256}},
        "model": {"name": "mlp", "params": {"width": 128, "depth": 1}},
        "train": {"optimizer": "adam", "lr": 1e-3, "batch_size": 32, "steps": steps, "eval_every": eval_every},
        "seeds": seeds, "observables": ["loss", "accuracy"],
    })


def _large(steps: int):
    """The FLOP rate's reference: the large regime's grokking MLP, 4 seeds (one seed chunk), full batch."""
    from refute.spec.schema import RunSpec

    return RunSpec.model_validate({
        "task": {"name": "modular_arithmetic", "params": {"p": 97, "op": "+", "train_fraction": 0.3}},
        "model": {"name": "mlp", "params": {"width": 512, "d_embed": 128, "depth": 1}},
        "train": {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1.0, "batch_size": "full", "steps": steps,
                  "eval_every": steps},
        "seeds": 4, "observables": ["loss"],
    })


class _Clock:
    """Wall and CPU time of the measurements, under one deadline."""

    def __init__(self, budget_s: float):
        self.deadline = time.perf_counter() + budget_s
        self.budget_s = budget_s
        self.wall = self.cpu = 0.0

    def check(self) -> None:
        if time.perf_counter() > self.deadline:
            raise CalibrationTimeout(f"calibrating took more than {self.budget_s:.0f} s (load average "
                                     f"{load_average()[0]:.2f})")

    def fit_seconds(self, run: RunSpec, threads: int) -> float:
        """The faster of two trainings of `run` (less noise from whatever else the machine does). At one
        thread its CPU time, which other processes hardly change (they delay the job instead: the plan
        estimates an otherwise idle machine); at more, wall time (waiting threads spin on the CPU)."""
        from refute.training.loop import fit

        best = math.inf
        for _ in range(2):
            self.check()
            t0, c0 = time.perf_counter(), time.process_time()
            fit(run, log=lambda msg: None)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            self.wall += wall * threads
            self.cpu += cpu
            best = min(best, cpu if threads == 1 else wall)
        return best

    def process_seconds(self, code: str) -> float:
        """A process's start-up: its CPU time (one thread: see fit_seconds), at most its wall time."""
        import resource

        self.check()
        t0, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True, timeout=max(1.0, self.deadline - t0))
        wall, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.wall, self.cpu = self.wall + wall, self.cpu + cpu
        return min(wall, cpu) if cpu > 0 else wall


def _speed(clock: _Clock, threads: int) -> Speed:
    import torch

    from refute.training.loop import fit

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        fit(_small(10, 10), log=lambda msg: None)  # warm-up: lazy imports, the allocator
        a, b, every, wide_b = 40, 240, 4, 140  # a wide step costs ~4x a narrow one: fewer steps resolve it
        t_a = clock.fit_seconds(_small(a, a), threads)
        t_b = clock.fit_seconds(_small(b, b), threads)
        t_e = clock.fit_seconds(_small(a, every), threads)
        t_c = clock.fit_seconds(_small(a, a, WIDE), threads)
        t_d = clock.fit_seconds(_small(wide_b, wide_b, WIDE), threads)
        t_1 = clock.fit_seconds(_large(1), threads)  # its first fit warms up too
        t_2 = clock.fit_seconds(_large(5), threads)
    finally:
        torch.set_num_threads(before)
    small, large = costs.job_cost(_small(a, a)), costs.job_cost(_large(1))
    large_step_flops = large.train_flops / large.steps
    rate = large_step_flops * 4 / max(t_2 - t_1, 1e-9)  # too noisy: implausible, not cached
    lane = small.seed_step_flops
    step = (t_b - t_a) / (b - a)
    gap = (t_d - t_c) / (wide_b - a) - step
    # The extra lanes' time is their FLOPs at the small products' rate (never above the big one: noise).
    small_rate = min(rate, (WIDE - NARROW) * lane / gap) if gap > 0 else rate
    overhead = max(step - NARROW * lane / small_rate, 1e-6)
    evals = (a // every + 1) - 2
    eval_flops = small.eval_flops / small.evals
    eval_s = max((t_e - t_a) / evals - eval_flops / small_rate, 0.0)
    return Speed(threads, rate, overhead, eval_s, small_rate, lane, large.seed_step_flops)


def calibrate(budget_s: float = BUDGET_S) -> Calibration:
    """Measure this machine (see the module's docstring); raises CalibrationTimeout past `budget_s`."""
    here = this_machine()
    clock = _Clock(budget_s)
    started = time.perf_counter()
    startup = clock.process_seconds("import refute.training.job, refute.training.loop, torch, pandas, pyarrow.parquet")
    # What a statistics job imports before its work (benchmarks/job_startup.md: scipy's statistics, no torch).
    light = clock.process_seconds("import refute.jobs, refute.stats.analyse, refute.report.view, scipy.stats")
    snakemake = clock.process_seconds("import snakemake.api, snakemake.workflow")
    speeds = tuple(_speed(clock, t) for t in sorted({1, here.cores}))
    share = clock.cpu / clock.wall if clock.wall else 1.0
    return Calibration(speeds, startup, light, snakemake, here.host, here.cpu, here.cores, here.torch, here.refute,
                       time.strftime("%Y-%m-%d %H:%M:%S"), here.now, round(time.perf_counter() - started, 1),
                       here.load, round(min(share, 1.0), 3))


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "refute"


def cache_path(directory: str | Path | None = None) -> Path:
    return Path(directory or cache_dir()) / f"calibration-{platform.node()}.json"


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Cached:
    """The calibration a plan uses (None: none usable), where it is cached, and what happened to it."""

    calibration: Calibration | None
    path: Path
    note: str = ""  # why it was measured again, or why there is none


def calibration(directory: str | Path | None = None, budget_s: float = BUDGET_S) -> Cached:
    """This host's calibration: the cached one while it is current (why_measure_again), else measured now
    (at most `budget_s`) and cached. Past the budget, the cached one if there is any, said so."""
    path = cache_path(directory)
    data = _read(path)
    why = why_measure_again(data, this_machine()) if data else "not calibrated yet"
    if why is None:
        return Cached(Calibration.from_json(data), path)
    try:
        cal = calibrate(budget_s)
        failed = why_measure_again(cal.to_json(), this_machine())
        failed = failed if failed and not failed.startswith("measured under load") else None
    except CalibrationTimeout as err:
        failed = str(err)
    if failed:  # keep what is cached, if it was only measured under load
        usable = data is not None and why.startswith("measured under load")
        return Cached(Calibration.from_json(data) if usable else None, path, f"not measured again: {failed}")
    from refute import io

    io.write_json(path, cal.to_json())
    return Cached(cal, path, f"measured now ({why})")


def cached_calibration(directory: str | Path | None = None) -> Cached:
    """This host's calibration if one is cached and current, else None: never measures (a dry run must
    not train anything). A calibration measured under load is used, and said so."""
    path = cache_path(directory)
    data = _read(path)
    if data is None:
        return Cached(None, path, "not calibrated yet")
    why = why_measure_again(data, this_machine())
    if why is None or why.startswith("measured under load"):
        return Cached(Calibration.from_json(data), path)
    return Cached(None, path, why)
