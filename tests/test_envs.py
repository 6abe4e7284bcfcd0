"""The conda environments (envs/*.yaml, for `snakemake --sdm conda`) hold what their jobs need.

Each job of a real DAG runs with Python's import log on (PYTHONPROFILEIMPORTTIME), so every module the job
imports, at start-up or lazily while it computes, is seen; a module that refute's own code imports must come
from a package of the job's environment, or from a package one of those depends on."""

import ast
import importlib.metadata as md
import os
import re
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, refute_cli, write_yaml

ENVS = ROOT / "envs"
# conda-forge names that differ from the installed (pip) distribution's
CONDA_TO_PIP = {"pytorch": "torch", "pytorch-cpu": "torch", "matplotlib-base": "matplotlib"}
# which environment runs each rule's log folder (rules/*.smk: `conda:` and `log:`)
ENV_OF_LOG = {"train": "train", "merge": "train", "probe": "probes", "stats": "stats", "report": "report",
              "index": "report", "observe": "stats", "observation_report": "report"}


def packages(env: str) -> dict[str, str]:
    """pip distribution name -> pinned version series, of envs/<env>.yaml (python left out)."""
    deps = yaml.safe_load((ENVS / f"{env}.yaml").read_text())["dependencies"]
    out = {}
    for d in deps:
        name, _, version = d.partition("=")
        if name != "python":
            out[_norm(CONDA_TO_PIP.get(name, name))] = version
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requires(dist: str) -> set[str]:
    try:
        reqs = md.requires(dist) or []
    except md.PackageNotFoundError:
        return set()
    return {_norm(re.split(r"[ ;<>=!~\[(]", r, 1)[0]) for r in reqs if "extra ==" not in r}


def closure(dists: set[str]) -> set[str]:
    """The distributions and everything they require, as installed here."""
    seen, todo = set(), list(dists)
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo += _requires(d) - seen
    return seen


def direct_imports(log: str) -> set[str]:
    """Top-level modules imported while one of refute's modules (or the job's entry point) was importing or
    running: what the job's own code needs (from PYTHONPROFILEIMPORTTIME's nested import log)."""
    lines = [line.split("|", 2)[2] for line in log.splitlines() if line.startswith("import time:") and
             line.count("|") >= 2 and not line.rstrip().endswith("imported package")]
    last, out = {}, set()
    for line in reversed(lines):  # a module is logged after what it imported: read backwards, parents first
        name, depth = line.strip(), (len(line) - len(line.lstrip()) - 1) // 2
        last[depth] = name
        parent = last.get(depth - 1, "__main__") if depth else "__main__"
        if parent.split(".")[0] in ("refute", "__main__") and name.split(".")[0] != "refute":
            out.add(name.split(".")[0])
    return out - set(sys.stdlib_module_names) - {"__main__"}


def refute_modules(log: str) -> set[str]:
    return {line.split("|", 2)[2].strip() for line in log.splitlines()
            if line.startswith("import time:") and line.split("|")[-1].strip().startswith("refute")}


def located(module: str) -> set[str]:
    """Modules a refute module finds with importlib.util.find_spec (reads their files without importing)."""
    path = ROOT / "src" / Path(*module.split(".")).with_suffix(".py")
    if not path.exists():
        path = path.with_suffix("") / "__init__.py"
    tree = ast.parse(path.read_text())
    return {n.args[0].value.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Call) and n.args
            and ast.unparse(n.func).endswith("find_spec") and isinstance(n.args[0], ast.Constant)}


def distributions_of(module: str) -> set[str]:
    return {_norm(d) for d in md.packages_distributions().get(module, [])}


def test_every_rule_names_an_environment_that_exists():
    named = {m for smk in (ROOT / "rules").glob("*.smk") for m in re.findall(r'"\.\./envs/(\w+)\.yaml"', smk.read_text())}
    assert named == {p.stem for p in ENVS.glob("*.yaml")} == set(ENV_OF_LOG.values())


@pytest.mark.parametrize("env", sorted(set(ENV_OF_LOG.values())))
def test_pins_are_the_versions_the_tests_run_with(env):
    for dist, series in packages(env).items():
        installed = md.version(dist).split("+")[0]
        assert installed == series or installed.startswith(series + "."), f"envs/{env}.yaml: {dist}={series}, tested {installed}"


@pytest.mark.slow
def test_each_environment_holds_every_module_its_jobs_import(tmp_path):
    hyp = {"id": "envs", "title": "Every job's imports", "statement": "A small MLP fits a few digits.",
           "task": {"name": "digits", "params": {"n_train": 64, "n_val": 32}},
           "model": {"name": "mlp", "params": {"width": 16}},
           "train": {"optimizer": "adamw", "lr": 0.01, "steps": 20, "eval_every": 10}, "seeds": 2,
           "observables": ["loss", "accuracy"], "probes": [{"name": "linear_probe", "site": "hidden.0"}],
           "compute": {"seeds_per_job": 1},  # two chunks and a merge job
           "predictions": [{"id": "fits", "kind": "threshold", "condition": "default", "metric": "train_acc",
                            "reduce": "final", "threshold": 0.1, "direction": "greater"}]}
    write_yaml(tmp_path / "hypotheses" / "envs.yaml", hyp)
    explore = {k: hyp[k] for k in ("task", "model", "train", "seeds", "observables")}
    write_yaml(tmp_path / "explorations" / "look.yaml", {  # an exploration of the same runs: observe and its report
        "id": "look", "title": "The same runs, explored", "question": "Does anything change suddenly?", **explore,
        "look": {"metrics": ["val_acc"], "reductions": ["final"]}})
    os.environ["PYTHONPROFILEIMPORTTIME"] = "1"  # the jobs inherit it
    try:
        out = refute_cli(tmp_path, "run", "--snakefile", str(ROOT / "Snakefile"))
    finally:
        del os.environ["PYTHONPROFILEIMPORTTIME"]
    assert out.returncode == 0, out.stderr[-3000:]
    seen = set()
    for log in sorted((tmp_path / "results" / "logs").rglob("*.log")):
        env = ENV_OF_LOG[log.parent.name]
        seen.add(log.parent.name)
        text = log.read_text()
        needed = direct_imports(text) | {m for r in refute_modules(text) for m in located(r)}
        assert needed, f"{log}: no import log"
        have = closure(set(packages(env)))
        missing = {m for m in needed if not distributions_of(m) & have}
        assert not missing, f"envs/{env}.yaml lacks {sorted(missing)}, imported by the {log.parent.name} job"
    assert seen == set(ENV_OF_LOG), seen


# ------------------------------------------------------------------ pin files (envs/<env>.<platform>.pin.txt)

def pinned(text: str) -> dict[str, str]:
    """conda name -> version, of a pin file: conda's explicit list (`@EXPLICIT`, one package URL a line) or
    plain `name=version[=build]` lines, as `conda create --file` reads both."""
    out = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("@"):
            continue
        if "://" in line:  # .../linux-64/numpy-2.4.1-py311h1234_0.conda
            stem = re.sub(r"\.(conda|tar\.bz2)$", "", line.rsplit("/", 1)[1])
            name, version, _build = stem.rsplit("-", 2)
        else:
            name, _, rest = line.partition("=")
            version = rest.lstrip("=").split("=")[0]
        out[name] = version
    return out


def pin_mismatches(env: str, text: str) -> list[str]:
    """Each package envs/<env>.yaml names that the pin file lacks, or pins outside the yaml's version series."""
    deps = yaml.safe_load((ENVS / f"{env}.yaml").read_text())["dependencies"]
    pins, out = pinned(text), []
    for d in deps:
        name, _, series = d.partition("=")
        got = pins.get(name)
        if got is None:
            out.append(f"{name}: not in the pin file")
        elif series and not (got == series or got.startswith(series + ".")):
            out.append(f"{name}: pinned {got}, the yaml asks for {series}")
    return out


@pytest.mark.parametrize("pin", sorted(ENVS.glob("*.pin.txt")), ids=lambda p: p.name)
def test_a_committed_pin_file_agrees_with_its_yaml(pin):
    env = pin.name.split(".")[0]
    assert (ENVS / f"{env}.yaml").exists(), f"{pin.name} pins no environment"
    assert not pin_mismatches(env, pin.read_text()), pin.name


def test_the_pin_check_finds_a_package_missing_or_outside_the_yaml_series():
    deps = yaml.safe_load((ENVS / "stats.yaml").read_text())["dependencies"]
    url = "https://conda.anaconda.org/conda-forge/linux-64/{}-{}-h0_0.conda#0123"
    good = ["@EXPLICIT"] + [url.format(d.split("=")[0], d.split("=")[1] + ".1") for d in deps]
    assert pin_mismatches("stats", "\n".join(good)) == []
    drifted = [line.replace("numpy-" + packages("stats")["numpy"], "numpy-1.26") for line in good]
    assert pin_mismatches("stats", "\n".join(drifted)) == [f"numpy: pinned 1.26.1, the yaml asks for {packages('stats')['numpy']}"]
    assert pin_mismatches("stats", "\n".join(line for line in good if "/scipy-" not in line)) == ["scipy: not in the pin file"]
    assert pin_mismatches("stats", "numpy=2.4.1=py311_0") != []  # plain spec lines are read too
