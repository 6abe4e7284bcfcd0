"""What the Snakefile needs from the package: the validated plan, run specs on disk, job sizes."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from refute import io
from refute.scaling import chunks
from refute.scaling import costs
from refute.spec.errors import SpecError
from refute.spec.hashing import run_hash
from refute.spec.loader import load_all
from refute.spec.plan import Plan

# When hypotheses sharing a run ask for different devices: a GPU request wins (results agree to
# floating-point tolerance), then an explicit cpu (auto accepts the CPU), then auto.
DEVICE_PRIORITY = {"cuda": 2, "cpu": 1, "auto": 0}
# Training jobs whose pessimistic estimate is under this many seconds join the group `tiny_train`, so a
# cluster profile can bundle them (`group-components`) and pay submission and start-up once per bundle.
TINY_JOB_S = 60.0
NEVER = "(?!)"  # a regex that matches nothing


@dataclass(frozen=True)
class RunCompute:
    """How one run is trained, merged over every hypothesis that uses it."""

    device: str  # auto | cpu | cuda
    seeds_per_job: int | None  # None: all seeds in one job


class Plan:
    """Every hypothesis in a folder, and the distinct training runs they need (keyed by run hash).

    A run is one job, or, when its seeds are split (`compute.seeds_per_job` in a hypothesis, or
    `seeds_per_job` in the Snakemake config), one job per chunk of seeds and a merge job.
    """

    def __init__(self, hypotheses: list[Plan], results: str | Path, seeds_per_job: int | None = None,
                 tiny_job_s: float = TINY_JOB_S):
        self.results = Path(results)
        self.hypotheses = {h.id: h for h in hypotheses}
        self.runs = {run_hash(r): r for h in hypotheses for r in h.conditions.values()}
        self.users: dict[str, list[tuple[str, str]]] = {k: [] for k in self.runs}  # run -> (hypothesis, condition)
        requests: dict[str, list] = {k: [] for k in self.runs}
        for h in hypotheses:
            for cond, k in h.runs.items():
                self.users[k].append((h.id, cond))
                requests[k].append(h.hypothesis.compute)
        self.compute = {k: _merge_compute(requests[k], seeds_per_job) for k in self.runs}
        self.chunks = {k: self._recorded_split(k) or chunks.split(len(run.seeds), self.compute[k].seeds_per_job)
                       for k, run in self.runs.items()}
        self.tiny_job_s = tiny_job_s
        self._costs: dict[tuple[str, int], costs.JobCost] = {}
        self.probe_jobs = {h.id: h.probe_jobs for h in hypotheses}
        self.probes = {j.hash: j for jobs in self.probe_jobs.values() for j in jobs}

    def _recorded_split(self, h: str) -> list[tuple[int, int]] | None:
        """A finished run keeps the split it was trained with, so changing seeds_per_job (say, moving
        from a workstation to a cluster) never retrains it."""
        path = self.run_dir(h) / "run.json"
        try:
            recorded = json.loads(path.read_text()).get("chunks")
        except (OSError, ValueError, AttributeError):  # absent, or damaged (the jobs report that): plan afresh
            return None
        return [tuple(c["slice"]) for c in recorded] if recorded else [(0, len(self.runs[h].seeds))]

    # --- paths -------------------------------------------------------------------------------------------
    def run_dir(self, h: str) -> Path:
        return self.results / "runs" / h

    def run_outputs(self, hyp_id: str, name: str) -> list[str]:
        return [str(self.run_dir(h) / name) for h in self.hypotheses[hyp_id].runs.values()]

    def chunk_dirs(self, h: str) -> list[str]:
        return [str(self.run_dir(h) / chunks.chunk_name(lo, hi)) for lo, hi in self.chunks[h]]

    def chunk_outputs(self, h: str, name: str) -> list[str]:
        return [f"{d}/{name}" for d in self.chunk_dirs(h)]

    def is_chunked(self, h: str) -> bool:
        return len(self.chunks[h]) > 1

    def run_pattern(self, chunked: bool) -> str:
        """A wildcard constraint matching exactly the runs trained whole (or exactly the split ones), so
        `train` and `train_chunk` + `merge_seeds` never both claim a run's outputs."""
        hashes = sorted(h for h in self.runs if self.is_chunked(h) == chunked)
        return "|".join(hashes) if hashes else NEVER

    def parent_outputs(self, hyp_id: str, name: str) -> list[str]:
        """The parent's output `name` for a refinement (its report shows the parent), else nothing."""
        parent = self.hypotheses[hyp_id].hypothesis.refines
        return [str(self.results / parent / name)] if parent else []

    def probe_dir(self, h: str) -> Path:
        return self.results / "probes" / h

    def probe_outputs(self, hyp_id: str) -> list[str]:
        return sorted({str(self.probe_dir(j.hash) / "values.parquet") for j in self.probe_jobs[hyp_id]})

    def probe_inputs(self, h: str) -> list[str]:
        """A probe job reads its run's weights (and a reference run's); run.json marks a run complete."""
        job = self.probes[h]
        runs = [job.run] + ([job.reference] if job.reference else [])
        return [str(self.run_dir(r) / name) for r in runs for name in ("run.json", "weights.pt", "snapshots.pt")]

    def write_run_specs(self) -> None:
        """Each run's spec.json, the train job's input. Content-addressed: written once, never changed,
        so its timestamp does not trigger reruns."""
        for h, run in self.runs.items():
            path = self.run_dir(h) / "spec.json"
            if not path.exists():
                io.write_text(path, json.dumps(run.model_dump(mode="json"), indent=2, sort_keys=True) + "\n")
        for h, job in self.probes.items():
            path = self.probe_dir(h) / "spec.json"
            if not path.exists():
                io.write_text(path, json.dumps(job.record, indent=2, sort_keys=True) + "\n")

    # --- job sizes ---------------------------------------------------------------------------------------
    def seed_range(self, h: str, lo=None, hi=None) -> tuple[int, int]:
        if lo is None:
            return 0, len(self.runs[h].seeds)
        return int(lo), int(hi)

    def job_cost(self, h: str, lo=None, hi=None) -> costs.JobCost:
        a, b = self.seed_range(h, lo, hi)
        if (h, b - a) not in self._costs:
            self._costs[h, b - a] = costs.job_cost(self.runs[h], b - a)
        return self._costs[h, b - a]

    def resources(self, wildcards, threads: int = 1) -> dict:
        """Scheduler resources of one training job (a whole run, or one chunk of its seeds)."""
        h = wildcards.run
        lo, hi = wildcards.get("lo"), wildcards.get("hi")
        device = self.compute[h].device
        cost = self.job_cost(h, lo, hi)
        # auto asks for no GPU: it uses one when the job is given one (e.g. a GPU partition in the profile).
        where = "cuda" if device == "cuda" else "cpu"
        return {
            "mem_mb": costs.mem_mb(cost, where),
            "runtime": costs.runtime_min(cost, where, threads),
            "cpus_per_task": threads,
            "gpu": 1 if device == "cuda" else 0,
            "train_device": device,
        }

    def train_group(self, wildcards) -> str | None:
        cost = self.job_cost(wildcards.run, wildcards.get("lo"), wildcards.get("hi"))
        where = "cuda" if self.compute[wildcards.run].device == "cuda" else "cpu"
        return "tiny_train" if costs.estimated_seconds(cost, where) < self.tiny_job_s else None


def _merge_compute(requests: list, cap: int | None) -> RunCompute:
    device = max((c.device for c in requests), key=DEVICE_PRIORITY.__getitem__)
    sizes = [c.seeds_per_job for c in requests if c.seeds_per_job != "all"] + ([cap] if cap else [])
    return RunCompute(device, min(sizes) if sizes else None)


def load_plan(hypotheses: str | Path = "hypotheses", results: str | Path = "results",
              seeds_per_job: int | None = None, tiny_job_s: float = TINY_JOB_S) -> Plan:
    """Validate every hypothesis file (all errors at once) and plan the runs; exit with the errors
    listed, file:line: field: message, before any job starts."""
    if seeds_per_job is not None and (not isinstance(seeds_per_job, int) or seeds_per_job <= 0):
        print(f"refute: config seeds_per_job must be a positive integer, not {seeds_per_job!r}", file=sys.stderr)
        sys.exit(1)
    try:
        plan = Plan(load_all(hypotheses), results, seeds_per_job, tiny_job_s)
    except SpecError as err:
        print(f"refute: invalid hypothesis files — nothing was run:\n{err}", file=sys.stderr)
        sys.exit(1)
    plan.write_run_specs()
    return plan


def threads_for(run) -> int:
    """Threads for a run's training job, from the size of its steps (refute.scaling.tuning): one for small
    models, whose ops are too small to split; every core for big matrix products."""
    key = json.dumps(run.model_dump(mode="json"), sort_keys=True)
    if key not in _THREADS:
        from refute.scaling import tuning
        from refute.spec.blueprint import blueprint

        _THREADS[key] = tuning.choose(blueprint(run)).threads
    return _THREADS[key]


_THREADS: dict[str, int] = {}
