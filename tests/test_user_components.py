"""A project's own components: the README's worked example runs through the DAG, every job finds the
components wherever it starts, a component's source decides its runs' hashes, and a broken component is
named by file and line before anything in results/ changes."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, dedent, write_yaml

SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def readme_example(project: Path) -> dict[str, str]:
    """The code blocks of the README's "Your own components" section that name their file on their first
    line (`# components/x.py`, `# hypotheses/x.yaml`), written into `project`: the example exactly as documented."""
    section = (ROOT / "README.md").read_text().split("## Your own components")[1].split("\n## ")[0]
    files = {}
    for body in re.findall(r"```(?:python|yaml)\n(.*?)```", section, re.S):
        m = re.match(r"# ((?:components|hypotheses)/[\w.-]+)\n", body)
        if m:
            files[m.group(1)] = body
            write_yaml(project / m.group(1), body)
    return files


def snakemake(workdir: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, "-d", str(workdir), "--cores", "2", *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})


@pytest.fixture
def fresh_registries():
    """Components registered by a test are gone after it (each process loads one project's components)."""
    from refute.components import user
    from refute.components.probes import _task_data
    from refute.components.tasks import _task_info
    from refute.spec.vocabulary import KINDS

    saved = {r: dict(r._entries) for r in KINDS.values() if r.names()}  # names(): every built-in loaded
    loaded, modules = dict(user._loaded), set(sys.modules)
    yield
    for registry, entries in saved.items():
        registry._entries.clear()
        registry._entries.update(entries)
    user._loaded.clear()
    user._loaded.update(loaded)
    for name in set(sys.modules) - modules:
        if name.startswith("refute_user_"):
            del sys.modules[name]
    _task_info.cache_clear()
    _task_data.cache_clear()


def test_the_readme_example_is_short_and_complete(tmp_path):
    files = readme_example(tmp_path)
    assert set(files) == {"components/xor_blobs.py", "components/margin.py", "hypotheses/xor-margin.yaml"}
    python_lines = sum(len(t.splitlines()) for f, t in files.items() if f.endswith(".py"))
    assert python_lines <= 60, python_lines


def test_the_readme_example_validates_and_its_components_are_user_components(tmp_path, fresh_registries):
    from refute.spec.loader import load_all

    readme_example(tmp_path)
    [plan] = load_all(tmp_path / "hypotheses")
    assert set(plan.code) == {"task:xor_blobs", "observable:margin"}
    assert "val_margin" in plan.hypothesis.predictions[0].metric


def test_every_job_is_told_where_the_components_are_by_absolute_path(tmp_path):
    readme_example(tmp_path)
    out = snakemake(tmp_path, "-n", "-p", cwd=tmp_path / "hypotheses")  # started from elsewhere
    assert out.returncode == 0, out.stderr[-3000:]
    commands = [line for line in (out.stdout + out.stderr).splitlines() if "-m refute.jobs" in line]
    assert {c.split("-m refute.jobs ")[1].split()[0] for c in commands} == {"train", "stats", "report", "index"}
    assert all(f"REFUTE_COMPONENTS={tmp_path / 'components'} " in c for c in commands), commands


@pytest.mark.slow
def test_the_readme_example_runs_through_the_dag_and_its_jobs_run_from_any_folder(tmp_path):
    readme_example(tmp_path)
    out = snakemake(tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    verdict = json.loads((tmp_path / "results/xor-margin/verdict.json").read_text())
    assert verdict["verdict"] in ("SUPPORTED", "REFUTED", "INCONCLUSIVE")
    assert "val_margin" in (tmp_path / "results/xor-margin/report.md").read_text()

    # A training job started from another folder, as a cluster might start it: the same numbers.
    run = next(p for p in (tmp_path / "results/runs").iterdir() if (p / "run.json").exists())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    job = [sys.executable, "-m", "refute.jobs", "train", str(run / "spec.json"), "--out", str(elsewhere / "out")]
    again = subprocess.run(job, cwd=elsewhere, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "REFUTE_COMPONENTS": str(tmp_path / "components")})
    assert again.returncode == 0, again.stderr[-3000:]
    import pandas as pd

    assert pd.read_parquet(elsewhere / "out/metrics.parquet").equals(pd.read_parquet(run / "metrics.parquet"))
    # Without the folder the job cannot know the task, and says so.
    lost = subprocess.run(job, cwd=elsewhere, capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k != "REFUTE_COMPONENTS"})
    assert lost.returncode != 0 and "unknown name 'xor_blobs'" in lost.stderr


# ------------------------------------------------------------------------------------ source and run hashes

TASK = """
from pydantic import Field

from refute.components.tasks import TASKS, Task, TaskData, TaskInfo
from refute.registry import Params


class P(Params):
    n: int = Field(64, ge=4)


@TASKS.register("{name}", P)
class T(Task):
    '''{name}: label = sign of the first input'''

    provides = frozenset({{"dense"}})

    def info(self, p):
        return TaskInfo(p.n, p.n, "dense", 3, 2, "classification")

    def build(self, p):
        import torch

        x = torch.randn(2 * p.n, 3, generator=torch.Generator().manual_seed({seed}))
        y = (x[:, 0] > 0).long()
        return TaskData(x[:p.n], y[:p.n], x[p.n:], y[p.n:], inputs="dense", in_dim=3, out_dim=2,
                        objective="classification")
"""


def two_hypotheses(project: Path, tiny: dict) -> None:
    """Hypothesis a uses user task task_a, b uses task_b; an observable module neither uses sits beside them."""
    for name in ("task_a", "task_b"):
        (project / "components").mkdir(parents=True, exist_ok=True)
        (project / "components" / f"{name}.py").write_text(dedent(TASK).format(name=name, seed=0))
        h = {**tiny, "id": name.replace("_", "-"), "task": {"name": name},
             "predictions": [{**tiny["predictions"][0]}]}
        write_yaml(project / "hypotheses" / f"{name.replace('_', '-')}.yaml", h)
    (project / "components" / "unused.py").write_text(readme_example(project / "example")["components/margin.py"])


def run_hashes(project: Path) -> dict[str, dict[str, str]]:
    """Each hypothesis's run hashes (and plan digest), as a fresh process (Snakemake's, a job's) computes them."""
    out = python("""
        import json
        from refute.spec.loader import load_all
        print(json.dumps({h.id: {**h.runs, "plan": h.digest()} for h in load_all("hypotheses")}))
    """, project)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_editing_a_user_task_changes_the_hashes_of_exactly_its_runs(tmp_path, tiny):
    two_hypotheses(tmp_path, tiny)
    before = run_hashes(tmp_path)

    task_a = tmp_path / "components/task_a.py"
    task_a.write_text(task_a.read_text().replace("manual_seed(0)", "manual_seed(1)"))
    after = run_hashes(tmp_path)
    assert after["task-b"] == before["task-b"]
    assert after["task-a"]["default"] != before["task-a"]["default"]
    assert after["task-a"]["plan"] != before["task-a"]["plan"]

    # A component no hypothesis uses reruns nothing; a helper module is part of every component's source.
    unused = tmp_path / "components/unused.py"
    unused.write_text(unused.read_text() + "\n# edited\n")
    assert run_hashes(tmp_path) == after
    (tmp_path / "components/_common.py").write_text("SCALE = 1\n")
    helped = run_hashes(tmp_path)
    assert helped["task-a"]["default"] != after["task-a"]["default"]
    assert helped["task-b"]["default"] != after["task-b"]["default"]


def test_built_in_components_add_nothing_to_a_run_hash(tiny, fresh_registries):
    """A run of built-ins is hashed as before user components existed (bundled hashes are pinned in test_spec)."""
    from conftest import plan_of
    from refute.registry import user_code

    plan = plan_of(tiny)
    assert plan.code == {} and "code" not in plan.model_dump(mode="json")
    assert all(user_code(r) == {} for r in plan.conditions.values())


# --------------------------------------------------------------------------------------- broken components

BROKEN = {
    "syntax": ("def build(self, p)\n    return 1\n", 1, "syntax error"),
    "import": ("import numpy\nimport no_such_package_here\n", 2, "ModuleNotFoundError: No module named "
                                                                    "'no_such_package_here'"),
    "missing_method": (dedent("""
        from refute.components.tasks import TASKS, Task
        from refute.registry import Params


        @TASKS.register("half_task", Params)
        class Half(Task):
            provides = frozenset({"dense"})

            def info(self, p):
                return None
        """), 5, "task 'half_task' does not implement build"),
    "wrong_signature": (dedent("""
        from refute.components.reductions import REDUCTIONS, Reducer, ReductionParams


        @REDUCTIONS.register("median_of", ReductionParams)
        class MedianOf(Reducer):
            def reduce(self, p, values):
                return float(values[len(values) // 2])
        """), 6, "reduce() takes p, values; the contract is reduce(p, steps, values, budget)"),
    "clash": (dedent("""
        from refute.components.observables import OBSERVABLES, Observable, ObservableParams


        @OBSERVABLES.register("loss", ObservableParams)
        class MyLoss(Observable):
            def metric_names(self, p, run, arch):
                return ["my_loss"]

            def compute(self, p, ctx):
                return {}
        """), 4, "observable 'loss' is already taken by a built-in"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_component_is_named_by_file_and_line(tmp_path, tiny, case, fresh_registries):
    from refute.spec.errors import SpecError
    from refute.spec.loader import load_all

    source, line, message = BROKEN[case]
    write_yaml(tmp_path / "hypotheses/tiny.yaml", tiny)
    module = tmp_path / "components" / f"{case}.py"
    write_yaml(module, source)
    with pytest.raises(SpecError) as err:
        load_all(tmp_path / "hypotheses")
    [issue] = err.value.issues
    assert (issue.file, issue.line) == (str(module), line), str(issue)
    assert message in issue.message, str(issue)


@pytest.mark.parametrize("case", ["syntax", "clash"])
def test_a_broken_component_stops_the_workflow_before_any_job_and_results_stay(tmp_path, tiny, case):
    write_yaml(tmp_path / "hypotheses/tiny.yaml", tiny)
    write_yaml(tmp_path / "results/runs/0123456789abcdef/run.json", '{"kept": true}\n')
    before = tree(tmp_path / "results")
    source, line, message = BROKEN[case]
    module = write_yaml(tmp_path / "components" / f"{case}.py", source)
    out = snakemake(tmp_path)
    assert out.returncode != 0
    assert f"{module}:{line}: " in out.stderr and message in out.stderr, out.stderr[-2000:]
    assert tree(tmp_path / "results") == before


def test_a_task_whose_info_is_not_a_task_info_is_a_spec_error_at_its_component(tmp_path, tiny, fresh_registries):
    from refute.spec.errors import SpecError
    from refute.spec.loader import load_all

    module = write_yaml(tmp_path / "components/bad_info.py", dedent(TASK).format(name="bad_info", seed=0)
                        .replace('return TaskInfo(p.n, p.n, "dense", 3, 2, "classification")', "return {'n': p.n}"))
    write_yaml(tmp_path / "hypotheses/tiny.yaml", {**tiny, "task": {"name": "bad_info"}, "model": {"name": "mlp"}})
    with pytest.raises(SpecError) as err:
        load_all(tmp_path / "hypotheses")
    [issue] = err.value.issues
    assert issue.field == "task" and f"{module}:" in issue.message
    assert "info() returned dict; the contract is a TaskInfo" in issue.message


def test_a_task_whose_data_is_unlike_its_info_is_named_at_first_use(tmp_path, fresh_registries):
    from refute.components.tasks import TASKS, built
    from refute.components.user import load_components
    from refute.registry import ComponentError

    module = write_yaml(tmp_path / "components/liar.py", dedent(TASK).format(name="liar", seed=0)
                        .replace('"dense", 3, 2,', '"dense", 4, 2,'))
    load_components(tmp_path / "components")
    with pytest.raises(ComponentError, match=rf"^{re.escape(str(module))}:\d+: task 'liar': build\(\) gives data unlike "
                                             r"what info\(\) says: in_dim 4 \(data: 3\)"):
        built("liar", TASKS.get("liar").params())


def test_an_observable_with_the_wrong_shape_fails_its_training_job_by_name_and_writes_nothing(tmp_path, tiny):
    """Wrong return shape at first use: the job fails naming the component; results/ keeps what it had."""
    readme_example(tmp_path)
    margin = tmp_path / "components/margin.py"
    margin.write_text(margin.read_text().replace("(true - other).mean(1)}", "(true - other)}"))
    spec = python("""
        import json
        from refute.spec.loader import load_all
        [plan] = load_all("hypotheses")
        run = plan.conditions["narrow"]
        print(json.dumps(run.model_dump(mode="json")))
    """, tmp_path)
    assert spec.returncode == 0, spec.stderr
    write_yaml(tmp_path / "results/runs/x/spec.json", spec.stdout)
    write_yaml(tmp_path / "results/runs/0123456789abcdef/run.json", '{"kept": true}\n')
    before = tree(tmp_path / "results")
    job = subprocess.run([sys.executable, "-m", "refute.jobs", "train", "results/runs/x/spec.json", "--out",
                          "results/runs/x"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "REFUTE_COMPONENTS": str(tmp_path / "components")})
    assert job.returncode != 0
    assert re.search(rf"{re.escape(str(margin))}:\d+: observable 'margin': compute\(\) must return "
                     r"\{metric name: tensor of shape \(3,\)\}, one value per seed; got 'val_margin': \(3, 256\)",
                     job.stderr), job.stderr[-2000:]
    assert tree(tmp_path / "results") == before


def test_an_installed_package_adds_components_through_its_entry_points(tmp_path):
    site = tmp_path / "site"
    (site / "my_refute_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "my_refute_plugin-0.1.dist-info/METADATA").write_text("Metadata-Version: 2.1\nName: my-refute-plugin\n"
                                                                 "Version: 0.1\n")
    (site / "my_refute_plugin-0.1.dist-info/entry_points.txt").write_text("[refute]\ntasks = my_refute_plugin\n")
    (site / "my_refute_plugin.py").write_text(dedent(TASK).format(name="plugged", seed=0))
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    out = python("""
        from refute.components.user import load_components
        from refute.spec.vocabulary import describe
        load_components(None)
        print(describe("task", "plugged"))
    """, tmp_path, **env)
    assert out.returncode == 0, out.stderr
    assert "task plugged: plugged: label = sign of the first input" in out.stdout
    assert f"user component, {site / 'my_refute_plugin.py'}:" in out.stdout
