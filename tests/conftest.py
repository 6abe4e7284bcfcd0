import copy
import textwrap
from pathlib import Path

import pytest
import yaml

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
    from refute.workflow.agenda import Plan, load_all

    plan = Plan(load_all(hypotheses), results)
    plan.write_run_specs()
    for h in plan.runs:
        if not (plan.run_dir(h) / "run.json").exists():
            train_run(plan.run_dir(h) / "spec.json", plan.run_dir(h))
    out = {}
    for hyp in plan.hypotheses.values():
        plan_file = write_plan_file(hyp, results)
        out[hyp.id] = analyse(plan_file, results).model_dump(mode="json")
        write_report(hyp.id, results)
    return out


def write_plan_file(hyp, results: Path) -> Path:
    """What the workflow writes for a hypothesis before its statistics: its plan, named by its digest."""
    from refute import io
    from refute.layout import Layout

    path = Layout(results).plan_file(hyp.digest())
    io.write_json(path, hyp.model_dump(mode="json"))
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
