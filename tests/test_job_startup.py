"""What a job pays before its own work: every job is a fresh interpreter, so a library a job's kind never
uses, imported anyway, costs each job of that kind its import time (torch ~0.9 s, scipy's statistics ~0.4 s,
matplotlib ~0.3 s, pandas ~0.3 s on an idle 2-core machine; benchmarks/job_startup.md). Each job here runs in
its own interpreter, as the workflow runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FITS_BY_LOSS, ROOT, run_pipeline, write_yaml

HEAVY = ["torch", "pandas", "scipy.stats", "statsmodels", "matplotlib", "sklearn"]


def libraries_after(argv: list[str], cwd: Path) -> set[str]:
    """The heavy libraries loaded once `python -m refute.jobs <argv>` has done its work, in a fresh interpreter."""
    code = (f"import sys, json\nfrom refute.jobs import main\nassert main({argv!r}) == 0\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A project whose one small hypothesis has been trained, tested and reported."""
    from conftest import TINY

    project = tmp_path_factory.mktemp("project")
    write_yaml(project / "hypotheses" / "tiny.yaml", {**TINY, "predictions": [FITS_BY_LOSS]})
    run_pipeline(project / "hypotheses", project / "results")
    return project


def test_a_statistics_job_never_imports_torch_or_matplotlib(finished):
    plan = str(next((finished / "results" / "plans").glob("*.json")))
    loaded = libraries_after(["stats", plan, "--results", "results"], finished)
    assert "scipy.stats" in loaded  # the job did test its prediction
    assert not loaded & {"torch", "matplotlib", "sklearn"}


def test_a_report_job_never_imports_torch_or_scipy(finished):
    loaded = libraries_after(["report", "tiny", "--results", "results"], finished)
    assert "matplotlib" in loaded  # the job did draw its figures
    assert not loaded & {"torch", "scipy.stats", "statsmodels", "sklearn"}


def test_the_index_job_imports_none_of_torch_scipy_or_matplotlib(finished):
    plans = [str(p) for p in (finished / "results" / "plans").glob("*.json")]
    assert libraries_after(["index", "--plans", *plans, "--results", "results"], finished) <= {"pandas"}


def test_a_training_job_imports_torch_and_no_tables_statistics_or_plotting(finished, tmp_path):
    # It only writes its metrics table: with pyarrow, from arrays (refute.training.metric_table).
    spec = str(next((finished / "results" / "runs").glob("*/spec.json")))
    loaded = libraries_after(["train", spec, "--out", str(tmp_path / "run")], finished)
    assert loaded == {"torch"}
    assert (tmp_path / "run" / "run.json").exists()
    # The table it wrote is the one the run's own job wrote through the workflow.
    import pandas as pd

    ours, theirs = tmp_path / "run" / "metrics.parquet", Path(spec).parent / "metrics.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(ours), pd.read_parquet(theirs), check_exact=True)


def test_loading_the_components_parses_no_source_file():
    """A job loads the registries it reads; finding a class's line (for error messages) makes inspect parse the
    class's whole module, ~20 ms a component: it is found only when an error asks for it."""
    code = """
import inspect, json
calls = []
real = inspect.findsource
inspect.findsource = lambda obj: calls.append(obj) or real(obj)
from refute.components.user import load_components
from refute.components import models, observables, optimizers, predictions, probes, reductions, tasks
load_components(None)
for registry in (tasks.TASKS, models.MODELS, optimizers.OPTIMIZERS, observables.OBSERVABLES, probes.PROBES,
                 reductions.REDUCTIONS, predictions.PREDICTIONS):
    assert registry.names()
print(json.dumps(len(calls)))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == 0


def test_a_component_still_names_its_file_and_line_when_asked():
    import inspect

    from refute.components.tasks import TASKS
    from refute.components.user import load_components

    load_components(None)
    entry = TASKS.get("modular_arithmetic")
    cls = type(entry.impl)
    assert entry.source == f"{inspect.getsourcefile(cls)}:{inspect.getsourcelines(cls)[1]}"
