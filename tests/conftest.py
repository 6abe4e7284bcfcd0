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
    """What the DAG does, stage by stage, without Snakemake: train each run, then stats and report."""
    from refute.report.markdown import write_report
    from refute.training.job import train_run
    from refute.stats.analyse import analyse
    from refute import layout
    from refute.workflow.agenda import Agenda, load_all

    agenda = Agenda(load_all(hypotheses), results)
    L = agenda.layout
    for h in agenda.runs:
        if not L.run_file(h, layout.RUN_RECORD).exists():
            agenda.write_run_spec(h, L.run_file(h, layout.RUN_SPEC))
            train_run(L.run_file(h, layout.RUN_SPEC), L.run_dir(h))
    out = {}
    for hyp in agenda.hypotheses.values():
        agenda.write_plan(agenda.digests[hyp.id], agenda.plan_file(hyp.id))
        out[hyp.id] = analyse(agenda.plan_file(hyp.id), results)
        write_report(hyp.id, results)
    return out


def refute_cli(cwd: Path, *args: str, timeout: int = 600):
    """Run the installed `refute` command in `cwd`, as a user would."""
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "refute"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "refute.cli"]
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
