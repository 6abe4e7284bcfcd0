"""The DAG at scale, through real Snakemake: one training job per condition, shared training done once,
seeds split across jobs and merged, job resources from the hypothesis, and profiles that stay in their lane."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import FITS_BY_LOSS, ROOT, write_yaml
from refute.spec.loader import load_hypothesis
from refute.training.loop import fit

SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, "-d", str(workdir), "--cores", "2", *args],
                          capture_output=True, text=True, timeout=600)


def files_of(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")} if folder.exists() else {}


def dry_run(workdir: Path, *args: str) -> tuple[dict[str, int], str]:
    """(jobs by rule, full output) of `snakemake -n`."""
    before = files_of(workdir / "results")
    out = snakemake(workdir, "-n", *args)
    text = out.stdout + out.stderr
    assert files_of(workdir / "results") == before, "a dry run wrote under results/"
    assert out.returncode == 0, text[-3000:]
    jobs = {}
    if "Job stats:" in text:
        for line in text.split("Job stats:")[1].splitlines()[3:]:
            m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if not m:
                break
            jobs[m.group(1)] = int(m.group(2))
    for summary in ("total", "all", "index"):  # the agenda index follows every report: not a job of interest
        jobs.pop(summary, None)
    return jobs, text


@pytest.fixture
def sweep(tmp_path, tiny):
    """Two conditions crossed with three learning rates: six conditions."""
    tiny["conditions"] = {"narrow": {"model.params.width": 16}, "wide": {"model.params.width": 48}}
    tiny["sweep"] = {"train.lr": [0.003, 0.01, 0.03]}
    tiny["predictions"][0]["condition"] = "wide_lr=0.01"
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    return tmp_path


def test_a_sweep_is_one_training_job_per_condition_without_packing(sweep):
    jobs, text = dry_run(sweep, "--config", "pack_runs=false")
    assert jobs == {"train": 6, "stats": 1, "report": 1}
    # The dry run also prints the plan before anything runs.
    assert "Plan for tiny" in text and "Models to train: 18 (6 run(s)" in text and "FLOPs" in text


def test_a_sweep_packs_the_runs_of_each_shape_into_one_job_per_core(sweep):
    """Three rates at each of two widths: one pack per width, already a job per core of the two."""
    jobs, text = dry_run(sweep)
    assert {rule for rule in jobs if not rule.startswith("train_pack_")} == {"stats", "report"}
    assert sorted(n for rule, n in jobs.items() if rule.startswith("train_pack_")) == [1, 1]
    assert text.count("as one batched model") == 2 and "Models to train: 18 (6 run(s)" in text
    jobs, _ = dry_run(sweep, "--cores", "1")
    assert len([rule for rule in jobs if rule.startswith("train_pack_")]) == 2


def test_identical_training_is_one_job_across_conditions_and_hypotheses(tmp_path, tiny):
    # Two conditions of one hypothesis with the same training, and a second hypothesis repeating it
    # (another claim about the same runs): one training job in all.
    tiny["conditions"] = {"a": {"train.lr": 0.01}, "b": {"train.lr": 0.01}}
    tiny["predictions"][0]["condition"] = "a"
    write_yaml(tmp_path / "hypotheses" / "one.yaml", tiny)
    other = {**tiny, "id": "two", "conditions": {"same": {"train.lr": 0.01}}, "compute": {"device": "cpu"},
             "predictions": [{**tiny["predictions"][0], "condition": "same", "threshold": 0.3}]}
    write_yaml(tmp_path / "hypotheses" / "two.yaml", other)
    jobs, _ = dry_run(tmp_path)
    assert jobs == {"train": 1, "stats": 2, "report": 2}
    runs = {load_hypothesis(p).runs[c] for p, c in
            [(tmp_path / "hypotheses/one.yaml", "a"), (tmp_path / "hypotheses/one.yaml", "b"),
             (tmp_path / "hypotheses/two.yaml", "same")]}
    assert len(runs) == 1


def test_seeds_split_across_jobs_then_merge(sweep):
    jobs, _ = dry_run(sweep, "--config", "seeds_per_job=2")
    assert jobs == {"train_chunk": 12, "merge_seeds": 6, "stats": 1, "report": 1}


def test_the_hypothesis_can_split_its_own_seeds(sweep):
    spec = yaml.safe_load((sweep / "hypotheses/tiny.yaml").read_text())
    spec["compute"] = {"seeds_per_job": 1}
    write_yaml(sweep / "hypotheses/tiny.yaml", spec)
    jobs, _ = dry_run(sweep)
    assert jobs == {"train_chunk": 18, "merge_seeds": 6, "stats": 1, "report": 1}


def test_training_jobs_ask_for_resources_from_the_hypothesis(sweep):
    spec = yaml.safe_load((sweep / "hypotheses/tiny.yaml").read_text())
    spec["compute"] = {"device": "cuda"}
    write_yaml(sweep / "hypotheses/tiny.yaml", spec)
    _, text = dry_run(sweep, "--config", "pack_runs=false")
    # Each training job's message: `train <hypothesis>.<condition> (run <hash>; threads=1, mem_mb=..., ...)`.
    train = re.findall(r"Job \d+: train .*\(run \w+; (.*)\)", text)
    assert len(train) == 6
    _, text = dry_run(sweep)  # or, packed: `train <hyp>.<cond>, ... as one batched model (pack <id>; threads=...)`
    packs = re.findall(r"Job \d+: train .* as one batched model \(pack \w+; (.*)\)", text)
    assert len(packs) == 2
    for asked in train + packs:
        res = dict(kv.split("=", 1) for kv in asked.split(", "))
        assert int(res["mem_mb"]) >= 400 and int(res["runtime"]) >= 10 and res["threads"] == "1"
        assert res["gpu"] == "1" and res["train_device"] == "cuda"
    cpu = {**spec, "compute": {"device": "auto"}}
    write_yaml(sweep / "hypotheses/tiny.yaml", cpu)
    _, text = dry_run(sweep)
    assert "gpu=0, train_device=auto" in text and "gpu=1" not in text


@pytest.mark.slow
def test_a_split_run_matches_one_job_and_is_not_redone_when_the_split_or_device_changes(tmp_path, tiny):
    tiny["predictions"] = [FITS_BY_LOSS]  # decided by TINY's 3 seeds
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    out = snakemake(tmp_path, "--config", "seeds_per_job=2")
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((tmp_path / "results/tiny/verdict.json").read_text())["verdict"] == "SUPPORTED"

    hyp = load_hypothesis(tmp_path / "hypotheses/tiny.yaml")
    run_dir = tmp_path / "results/runs" / hyp.runs["default"]
    assert sorted(p.name for p in run_dir.glob("seeds-*")) == ["seeds-0-2", "seeds-2-3"]
    alone = fit(hyp.conditions["default"], log=lambda m: None)
    merged = pd.read_parquet(run_dir / "metrics.parquet")
    # Bit for bit: a seed's numbers do not depend on which seeds share its job (tests/test_chunk_invariance.py).
    pd.testing.assert_frame_equal(merged, alone.metrics, check_exact=True)

    # A finished run keeps its split, and a new device request trains nothing again (the edited file
    # is re-read by the statistics and the report, which are cheap).
    assert dry_run(tmp_path, "--config", "seeds_per_job=1")[0] == {}
    spec = yaml.safe_load((tmp_path / "hypotheses/tiny.yaml").read_text())
    write_yaml(tmp_path / "hypotheses/tiny.yaml", {**spec, "compute": {"device": "cpu", "seeds_per_job": 1}})
    assert dry_run(tmp_path)[0] == {"stats": 1, "report": 1}


@pytest.mark.slow
def test_a_job_beyond_the_memory_limit_is_refused_at_its_start_and_the_others_reach_their_verdicts(tmp_path, tiny):
    """Local Snakemake starts a job whose mem_mb exceeds its limit anyway (scaled down to the limit), so the
    job itself refuses to train; keep-going finishes the unrelated hypothesis. (The limit is the machine's
    memory unless --resources mem_mb says otherwise; a small one here stands in for a small machine.)"""
    from refute.workflow.agenda import load_agenda

    tiny["predictions"] = [FITS_BY_LOSS]  # decided by TINY's 3 seeds
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    huge = {**tiny, "id": "huge", "seeds": 64, "model": {"name": "mlp", "params": {"width": 1024, "depth": 2}}}
    write_yaml(tmp_path / "hypotheses" / "huge.yaml", huge)
    agenda = load_agenda(tmp_path / "hypotheses", tmp_path / "results")
    need = {i: agenda.resources(type("W", (), {"run": h, "get": lambda s, k: None})())["mem_mb"]
            for h, users in agenda.users.items() for i, _ in users}
    limit = need["tiny"]
    assert need["huge"] > limit

    out = snakemake(tmp_path, "--resources", f"mem_mb={limit}")
    assert out.returncode != 0  # one job failed ...
    assert json.loads((tmp_path / "results/tiny/verdict.json").read_text())["verdict"] == "SUPPORTED"  # ... alone
    assert not (tmp_path / "results/huge/verdict.json").exists()
    huge_run = load_hypothesis(tmp_path / "hypotheses/huge.yaml").runs["default"]
    assert not (tmp_path / "results/runs" / huge_run / "run.json").exists()
    log = (tmp_path / "results/logs/train" / f"{huge_run}.log").read_text()
    assert f"not started: huge:default needs {need['huge']:,} MB per training job, more than the {limit:,} MB" in log
    assert "seeds_per_job" in log and "warning: huge:default" in out.stderr


def _keys(path: Path) -> set[str]:
    return set(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_every_profile_entry_is_commented(profile):
    lines = (ROOT / "profiles" / profile / "config.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[a-z][\w-]*:", line) or re.match(r"^  [a-z_]+:", line):
            assert lines[i - 1].lstrip().startswith("#"), f"{profile}: {line!r} has no comment above it"


def test_the_cluster_profile_sets_nothing_the_workstation_profile_would_override():
    # Snakemake always applies profiles/default as the workflow profile, and its keys win.
    assert not _keys(ROOT / "profiles/slurm/config.yaml") & _keys(ROOT / "profiles/default/config.yaml")
    assert yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())["executor"] == "slurm"


def test_partition_and_account_live_in_profiles_never_in_rules():
    for path in [ROOT / "Snakefile", *(ROOT / "rules").glob("*.smk")]:
        text = path.read_text()
        assert not re.search(r"slurm_partition|slurm_account|--partition|--account", text), path


# Third-party imports of each rule family's job, by top-level module -> the conda package providing it.
CONDA_NAMES = {"torch": {"pytorch", "pytorch-cpu"}, "yaml": {"pyyaml"}, "matplotlib": {"matplotlib-base", "matplotlib"},
               "sklearn": {"scikit-learn"}}
FAMILIES = {
    "train": "import refute.training.job, refute.training.loop, refute.training.chunks; from refute.components.tasks import TASKS; "
             "from refute.components.models import MODELS; from refute.components.optimizers import OPTIMIZERS; "
             "from refute.components.observables import OBSERVABLES; "
             "[r.names() for r in (TASKS, MODELS, OPTIMIZERS, OBSERVABLES)]",
    "stats": "import refute.stats.analyse; from refute.spec.schema import Hypothesis; "
             "from refute.components.predictions import PREDICTIONS; PREDICTIONS.names()",
    "report": "import refute.report.markdown, refute.report.figures, refute.stats.analyse; "
              "from refute.spec.schema import Hypothesis; from refute.components.predictions import PREDICTIONS; "
              "PREDICTIONS.names()",
    "probes": "import refute.probing.job; from refute.components.probes import PROBES; "
              "from refute.components.models import MODELS; from refute.components.tasks import TASKS; "
              "[r.names() for r in (PROBES, MODELS, TASKS)]",
}
DECLARED = ["torch", "numpy", "scipy", "statsmodels", "pandas", "pyarrow", "pydantic", "yaml", "matplotlib", "sklearn"]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_rule_family_has_a_conda_env_with_what_its_job_imports(family):
    env = yaml.safe_load((ROOT / "envs" / f"{family}.yaml").read_text())
    packages = {re.split(r"[<>=! ]", d)[0] for d in env["dependencies"] if isinstance(d, str)}
    probe = f"{FAMILIES[family]}\nimport sys\nprint(' '.join(sorted(m for m in {DECLARED!r} if m in sys.modules)))"
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert imported, "the probe imported nothing"
    for module in imported:
        assert CONDA_NAMES.get(module, {module}) & packages, f"envs/{family}.yaml lacks {module}"
    rules = "\n".join(p.read_text() for p in (ROOT / "rules").glob("*.smk"))
    assert f'"../envs/{family}.yaml"' in rules


def test_a_dry_run_in_a_fresh_project_writes_nothing(tmp_path, tiny):
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    jobs, text = dry_run(tmp_path)
    assert jobs == {"train": 1, "stats": 1, "report": 1} and "Models to train: 3" in text
    assert not (tmp_path / "results").exists()


def test_a_huge_valid_model_is_sized_without_being_built(tmp_path, tiny):
    """Sizing reads the blueprint: a 65,536-wide, 32-deep MLP (17 GB of weights per seed) plans in a dry run
    without allocating anything, and asks for the memory it needs."""
    tiny["model"]["params"].update(width=65536, depth=32)
    tiny["task"]["params"] = {"p": 11, "train_fraction": 0.5}
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    jobs, text = dry_run(tmp_path)
    assert jobs == {"train": 1, "stats": 1, "report": 1}
    (row,) = [line for line in text.splitlines() if line.strip().startswith("default ")]
    assert int(re.search(r"(\d+) MB", row).group(1)) > 100_000


def test_a_job_bigger_than_the_machine_is_warned_about_with_the_seeds_per_job_that_fit(tmp_path, tiny):
    from refute.workflow.agenda import load_agenda

    tiny["model"]["params"].update(width=4096, depth=8)
    tiny["seeds"] = 64
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    agenda = load_agenda(tmp_path / "hypotheses", tmp_path / "results")
    need = max(r["mem_mb"] for r in [agenda.resources(type("W", (), {"run": h, "get": lambda s, k: None})())
                                      for h in agenda.runs])
    (line,) = agenda.memory_warnings(limit_mb=need // 4)
    assert f"needs {need:,} MB per training job" in line and "seeds_per_job:" in line
    k = int(re.search(r"seeds_per_job: (\d+)", line).group(1))
    assert 1 <= k < 64
    assert agenda.memory_warnings(limit_mb=need) == []
    _, text = dry_run(tmp_path, "--config", "seeds_per_job=64")
    assert ("warning:" in text) == (need > __import__("refute.workflow.agenda", fromlist=["x"]).machine_memory_mb())
