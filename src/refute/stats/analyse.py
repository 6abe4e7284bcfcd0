"""The statistics stage: gather a hypothesis's runs, reduce them, test each prediction, decide."""

from __future__ import annotations

import json
import math
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from refute import io
from refute.probes._base import address
from refute.probes._plan import probe_jobs
from refute.registry import PREDICTIONS
from refute.spec.loader import Hypothesis, load_hypothesis
from refute.stats import reductions
from refute.stats.alternatives import judge_alternatives
from refute.stats.verdict import decide, judge

PACKAGES = ["refute", "torch", "numpy", "scipy", "statsmodels", "pandas", "pydantic", "snakemake"]


def read_runs(hyp: Hypothesis, results: Path) -> tuple[pd.DataFrame, dict[str, dict]]:
    """The tidy table of every condition (condition, seed, step, metric, value) and each run's record."""
    frames, meta = [], {}
    for cond, h in hyp.runs().items():
        run_dir = results / "runs" / h
        frame = pd.read_parquet(run_dir / "metrics.parquet")
        frame.insert(0, "condition", cond)
        frames.append(frame)
        meta[cond] = json.loads((run_dir / "run.json").read_text())
    return pd.concat(frames, ignore_index=True), meta


PROBE_COLUMNS = ["condition", "seed", "step", "probe", "metric", "site", "unit", "value"]


def read_probes(hyp: Hypothesis, results: Path) -> pd.DataFrame:
    """Every probe table of the hypothesis: condition, seed, step, probe, metric, site, unit, value."""
    frames = []
    for job in probe_jobs(hyp):
        frame = pd.read_parquet(results / "probes" / job.hash / "values.parquet")
        frame.insert(0, "condition", job.condition)
        frame.insert(3, "probe", job.probe)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=PROBE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[PROBE_COLUMNS]


def probe_observations(probes: pd.DataFrame) -> pd.DataFrame:
    """Probe summary rows (no unit) as observations, named <probe>/<metric>[@<site>] for predictions."""
    summary = probes[probes.unit == ""]
    names = [address(p, m, s) for p, m, s in zip(summary.probe, summary.metric, summary.site)]
    return pd.DataFrame({"condition": summary.condition, "seed": summary.seed, "step": summary.step,
                         "metric": names, "value": summary.value})


def reduce_runs(pred, table: pd.DataFrame, meta: dict[str, dict]) -> pd.DataFrame:
    """One row per (condition, seed): the prediction's reduced value of its metric."""
    rows = []
    for cond in pred.conditions_used():
        budget = meta[cond]["steps"]
        sub = table[(table.condition == cond) & (table.metric == pred.metric)]
        for seed, g in sub.groupby("seed", sort=True):
            value = reductions.apply(pred.reduce, g.step.to_numpy(), g.value.to_numpy(), budget)
            rows.append({"prediction": pred.id, "condition": cond, "seed": int(seed), "value": value,
                         "censored": reductions.is_censored(pred.reduce, value, budget)})
    return pd.DataFrame(rows, columns=["prediction", "condition", "seed", "value", "censored"])


def run_failures(meta: dict[str, dict]) -> list[str]:
    out = []
    for cond, m in meta.items():
        for seed, step in sorted(m.get("diverged", {}).items(), key=lambda kv: int(kv[0])):
            out.append(f"condition {cond}, seed {seed} diverged (non-finite loss) at step {step}")
    return out


def analyse(hypothesis_path: str | Path, results: str | Path = "results") -> dict:
    """Write results/<id>/{observations.parquet, probes.parquet, reduced.parquet, predictions.json, verdict.json}."""
    results = Path(results)
    hyp = load_hypothesis(hypothesis_path)
    out_dir = results / hyp.id
    table, meta = read_runs(hyp, results)
    probes = read_probes(hyp, results)
    if len(probes):
        table = pd.concat([table, probe_observations(probes)], ignore_index=True)
    failures = run_failures(meta)

    reduced, predictions, outcomes = [], [], {}
    for pred in hyp.spec.predictions:
        values = reduce_runs(pred, table, meta)
        reduced.append(values)
        finite = values[np.isfinite(values.value)]
        samples = {c: finite[finite.condition == c].value.to_numpy() for c in pred.conditions_used()}
        result = PREDICTIONS.get(pred.kind).impl(pred, samples)
        dropped = len(values) - len(finite)
        if dropped:
            result.notes.append(f"{dropped} run(s) had no value (never crossed, or non-finite) and were left out")
        censored = int(values.censored.sum())
        if censored:
            result.notes.append(f"{censored} run(s) never crossed within the step budget; their value is the budget, "
                                "a lower bound on the true step")
        n_min = min(result.n.values()) if result.n else 0
        outcome = judge(pred.direction, pred.alpha, pred.min_effect, result.p, result.estimate, result.ci, n_min)
        outcomes[pred.id] = outcome
        predictions.append({"id": pred.id, "kind": pred.kind, "spec": pred.model_dump(mode="json"),
                            "result": _clean(result.to_dict()), "outcome": outcome.to_dict()})

    verdict, reasons = decide(outcomes, failures)
    record = {
        "id": hyp.id,
        "title": hyp.spec.title,
        "statement": hyp.spec.statement,
        "verdict": verdict,
        "reasons": reasons,
        "predictions": {p["id"]: p["outcome"]["status"] for p in predictions},
        "alternatives": judge_alternatives(hyp.spec.alternatives, outcomes, valid=not failures),
        "refines": hyp.spec.refines,
        "spec": hyp.spec.model_dump(mode="json"),
        "failures": failures,
        "runs": {c: {"hash": h, **_run_summary(meta[c])} for c, h in hyp.runs().items()},
        "probes": [{"id": p.label, "name": p.name, "params": p.model_dump(mode="json", exclude={"id", "name"})}
                   for p in hyp.spec.probes],
        "provenance": provenance(hyp, meta),
    }
    io.write_parquet(out_dir / "observations.parquet", table)
    io.write_parquet(out_dir / "probes.parquet", probes)
    io.write_parquet(out_dir / "reduced.parquet", pd.concat(reduced, ignore_index=True))
    io.write_json(out_dir / "predictions.json", predictions)
    io.write_json(out_dir / "verdict.json", record)
    return record


def _run_summary(m: dict) -> dict:
    return {k: m.get(k) for k in ("seeds", "steps", "wall_seconds", "device", "threads", "diverged")}


def _clean(obj):
    # JSON has no inf/nan: write them as strings a reader recognises.
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def provenance(hyp: Hypothesis, meta: dict[str, dict]) -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "hypothesis_file": str(hyp.path),
        "hypothesis_sha256": hyp.file_sha256,
        "packages": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "devices": sorted({m.get("device", "?") for m in meta.values()}),
        "training_wall_seconds": round(sum(m.get("wall_seconds", 0.0) for m in meta.values()), 2),
        "analysed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
