import copy
import textwrap
from pathlib import Path

import pytest
import yaml

import refute  # noqa: F401  first: it asks MKL for alignment-independent products before any test runs one

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "id": "tiny",
    "title": "A tiny MLP fits modular addition mod 11",
    "statement": "A small MLP reaches high training accuracy on (a + b) mod 11 within 150 steps.",
    "task": {"name": "modular_arithmetic", "params": {"p": 11, "train_fraction": 0.5}},
    "model": {"name": "mlp", "params": {"width": 32, "d_embed": 8}},
    "train": {"optimizer": "adamw", "lr": 0.01, "steps": 150, "eval_every": 25},
    "seeds": 3,
    "observables": ["loss", "accuracy", "weight_norm"],
    "predictions": [
        {
            "id": "fits",
            "kind": "threshold",
            "condition": "default",
            "metric": "train_acc",
            "reduce": "final",
            "threshold": 0.5,
            "direction": "greater",
        }
    ],
}


# TINY's own prediction reads train_acc, which ends at 1.0 in every seed: a ceiling, tested exactly (a sign
# test, p = 1/2ⁿ), so 3 seeds cannot decide it. Tests that need TINY's real runs to reach a verdict use this
# one instead: the training loss has a spread across seeds, so a t-test decides it with 3.
FITS_BY_LOSS = {"id": "fits", "kind": "threshold", "condition": "default", "metric": "train_loss", "reduce": "final",
                "threshold": 0.5, "direction": "less"}


@pytest.fixture
def tiny() -> dict:
    """A small valid hypothesis as a dict; tests edit a copy."""
    return copy.deepcopy(TINY)


def write_yaml(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def run_pipeline(hypotheses: Path, results: Path) -> dict[str, dict]:
    """What the DAG does, stage by stage, without Snakemake: train each run, write each plan file, then stats
    and report. Returns each hypothesis's verdict record as JSON data."""
    from refute.report.markdown import write_report
    from refute.training.job import train_run
    from refute.stats.analyse import analyse
    from refute import layout
    from refute.workflow.agenda import Agenda, load_all

    agenda = Agenda(load_all(hypotheses), results)
    agenda.seal()  # as the workflow does when it starts, before any training job
    L = agenda.layout
    for h in agenda.runs:
        if not L.run_file(h, layout.RUN_RECORD).exists():
            agenda.write_run_spec(h, L.run_file(h, layout.RUN_SPEC))
            train_run(L.run_file(h, layout.RUN_SPEC), L.run_dir(h))
    out = {}
    for hyp in agenda.hypotheses.values():
        agenda.write_plan(agenda.digests[hyp.id], agenda.plan_file(hyp.id))
        out[hyp.id] = analyse(agenda.plan_file(hyp.id), results).model_dump(mode="json")
        write_report(hyp.id, results)
    return out


def write_plan_file(hyp, results: Path) -> Path:
    """What the workflow writes for a hypothesis before its statistics: its plan, named by its digest."""
    from refute import io
    from refute.layout import Layout

    from refute.spec.plan import write_plan

    path = Layout(results).plan_file(hyp.digest())
    write_plan(hyp, path)
    return path


def analyse_file(path: Path, results: Path) -> dict:
    """The statistics stage on a hypothesis file, as the workflow runs it: plan file first, then analyse it.
    Returns the verdict record as JSON data."""
    from refute.spec.loader import load_hypothesis
    from refute.stats.analyse import analyse

    return analyse(write_plan_file(load_hypothesis(path), Path(results)), results).model_dump(mode="json")


def refute_cli(cwd: Path, *args: str, timeout: int = 600):
    """Run the installed `refute` command in `cwd`, as a user would."""
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "refute"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "refute.cli"]
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------ records, built from the record models

def plan_of(data: dict, file: str = "hypotheses/h.yaml"):
    """A validated plan for a hypothesis given as data (no file read)."""
    from refute.spec.loader import plan_data

    return plan_data(copy.deepcopy(data), file)


def result_record(**fields):
    """A prediction's test record: a one-sample t-test on two runs, unless `fields` say otherwise."""
    from refute.stats.records import TestRecord

    base = {"test": "one-sample t-test", "statistic": 3.0, "p": 0.01, "p_adjusted": 0.01, "estimate": 0.4,
            "ci": (0.1, 0.7), "ci_level": 0.95, "correction": "none", "effect": "mean (a − 0.5)",
            "n": {"default": 2}, "ci_judged": (0.1, 0.7), "ci_judged_level": 0.95,
            "counts": {"runs": 2, "used": 2, "failed": 0, "no_value": 0, "censored": 0}}
    return TestRecord.model_validate({**base, **fields})


def prediction_records(plan, status: dict[str, str], power: dict[str, int] | None = None, **fields) -> list:
    """Every prediction of `plan` with the outcome `status[id]` (and a power plan asking for `power[id]` seeds)."""
    from refute.stats.records import PredictionRecord

    out = []
    for p in plan.hypothesis.predictions:
        plan_for = None
        if power and p.id in power:
            plan_for = {"effect": 0.1, "basis": "declared smallest effect of interest δ", "n": 3, "power_at_n": 0.2,
                        "seeds_for_80": power[p.id], "alpha": 0.05, "method": "t", "unit": "seeds"}
        out.append(PredictionRecord(id=p.id, kind=p.kind, spec=p, conditions=p.conditions_used(list(plan.conditions)),
                                    result=result_record(power=plan_for, **fields),
                                    outcome={"status": status[p.id], "reason": "p < α", "would_change": "p ≥ α"}))
    return out


def verdict_record(plan, predictions: list, verdict: str, **fields):
    """The verdict record the statistics stage would write for `plan` and `predictions`."""
    from refute.stats.records import VerdictRecord

    base = {
        "id": plan.id, "title": plan.hypothesis.title, "statement": plan.hypothesis.statement, "verdict": verdict,
        "post_hoc": False, "reasons": [f"prediction {p.id} {p.outcome.status}" for p in predictions],
        "predictions": {p.id: p.outcome.status for p in predictions}, "analysis": plan.hypothesis.analysis,
        "alternatives": [], "refines": plan.hypothesis.refines, "spec": plan.hypothesis, "failures": [],
        "preregistration": {"status": "pre-registered", "registered_at": "2026-01-01T00:00:00+00:00",
                            "sha256": "a" * 64, "current_sha256": "a" * 64, "changed": []},
        "power": {p.id: p.result.power for p in predictions if p.result.power and p.outcome.status == "inconclusive"},
        "runs": {c: {"hash": h, "seeds": list(plan.conditions[c].seeds), "steps": plan.conditions[c].train.steps,
                     "wall_seconds": 1.0, "device": "cpu", "threads": 1, "diverged": {}} for c, h in plan.runs.items()},
        "probes": [],
        "provenance": {"hypothesis_file": plan.file, "hypothesis_sha256": plan.file_sha256,
                       "packages": {"torch": "2"}, "python": "3.11", "platform": "linux", "devices": ["cpu"],
                       "training_wall_seconds": 1.0, "analysed_at": "2026-01-01T00:00:00+00:00"},
        "plan": plan.digest(),
    }
    return VerdictRecord.model_validate({**base, **fields})


def reduced_table(predictions: list, values=(0.9, 0.95)):
    """reduced.parquet's rows: each prediction's first condition, one value per seed."""
    import pandas as pd

    rows = [{"prediction": p.id, "condition": p.conditions[0], "seed": i, "metric": "train_acc", "role": "y",
             "x": float("nan"), "value": v, "censored": False, "failed": False, "used": True}
            for p in predictions for i, v in enumerate(values)]
    return pd.DataFrame(rows)


def write_records(results: Path, plan, verdict, predictions, reduced=None, observations=None) -> None:
    """The statistics stage's outputs, as it writes them: plan file, tables, predictions.json, verdict.json."""
    import pandas as pd

    from refute import io
    from refute.stats import records
    from refute.stats.analyse import PROBE_COLUMNS

    out = Path(results) / plan.id
    write_plan_file(plan, Path(results))
    if observations is None:
        observations = pd.DataFrame({"condition": "default", "seed": [0, 0], "step": [0, 10], "metric": "train_acc",
                                     "value": [0.1, 0.9]})
    io.write_parquet(out / "observations.parquet", observations)
    io.write_parquet(out / "probes.parquet", pd.DataFrame(columns=PROBE_COLUMNS))
    io.write_parquet(out / "reduced.parquet", reduced if reduced is not None else reduced_table(predictions))
    records.write(out, verdict, predictions)


