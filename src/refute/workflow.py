"""What the Snakefile needs from the package: the validated plan, run specs on disk, job sizes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from refute import io
from refute.probes._plan import probe_jobs
from refute.spec.errors import SpecError
from refute.spec.loader import Hypothesis, load_all, run_hash


class Plan:
    """Every hypothesis in a folder, and the distinct training runs they need (keyed by run hash)."""

    def __init__(self, hypotheses: list[Hypothesis], results: str | Path):
        self.results = Path(results)
        self.hypotheses = {h.id: h for h in hypotheses}
        self.runs = {run_hash(r): r for h in hypotheses for r in h.conditions.values()}
        self.probe_jobs = {h.id: probe_jobs(h) for h in hypotheses}
        self.probes = {j.hash: j for jobs in self.probe_jobs.values() for j in jobs}

    def run_dir(self, h: str) -> Path:
        return self.results / "runs" / h

    def run_outputs(self, hyp_id: str, name: str) -> list[str]:
        return [str(self.run_dir(h) / name) for h in self.hypotheses[hyp_id].runs().values()]

    def parent_outputs(self, hyp_id: str, name: str) -> list[str]:
        """The parent's output `name` for a refinement (its report shows the parent), else nothing."""
        parent = self.hypotheses[hyp_id].spec.refines
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


def load_plan(hypotheses: str | Path = "hypotheses", results: str | Path = "results") -> Plan:
    """Validate every hypothesis file (all errors at once) and plan the runs; exit with the errors
    listed, file:line: field: message, before any job starts."""
    try:
        plan = Plan(load_all(hypotheses), results)
    except SpecError as err:
        print(f"refute: invalid hypothesis files — nothing was run:\n{err}", file=sys.stderr)
        sys.exit(1)
    plan.write_run_specs()
    return plan


def threads_for(run) -> int:
    """Threads for a run's training job, from the size of its steps (refute.tuning): one for small
    models, whose ops are too small to split; every core for big matrix products."""
    key = json.dumps(run.model_dump(mode="json"), sort_keys=True)
    if key not in _THREADS:
        from refute import tuning

        _THREADS[key] = tuning.plan(run)[0]
    return _THREADS[key]


_THREADS: dict[str, int] = {}
