"""The real Snakemake DAG, end to end, on a tiny hypothesis: train → stats → report, and reruns."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, write_yaml

SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, "-d", str(workdir), "--cores", "2", *args],
                          capture_output=True, text=True, timeout=600)


def planned_jobs(workdir: Path) -> dict[str, int]:
    """Jobs a dry run would execute, by rule."""
    out = snakemake(workdir, "-n")
    assert out.returncode == 0, out.stderr
    jobs = {}
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return jobs
    table = text.split("Job stats:")[1]
    for line in table.splitlines()[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m:
            break
        jobs[m.group(1)] = int(m.group(2))
    jobs.pop("total", None)
    jobs.pop("all", None)
    return jobs


@pytest.fixture
def project(tmp_path, tiny):
    # train_acc ends at 1.0 in every seed, a ceiling that an exact test decides (p = 1/2ⁿ) only with enough
    # seeds: 6 for two predictions under Holm.
    tiny["seeds"] = 6
    tiny["conditions"] = {"small": {"model.params.width": 16}, "wide": {"model.params.width": 48}}
    tiny["predictions"] = [
        {"id": "fits", "kind": "threshold", "condition": "wide", "metric": "train_acc", "reduce": "final",
         "threshold": 0.5, "direction": "greater"},
        {"id": "wider-fits-better", "kind": "compare", "conditions": ["wide", "small"], "test": "welch",
         "metric": "train_loss", "reduce": "final", "direction": "less"},
    ]
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    return tmp_path


@pytest.mark.slow
def test_dag_runs_to_a_verdict_and_reruns_only_what_changed(project, tiny):
    assert planned_jobs(project) == {"train": 2, "stats": 1, "report": 1, "index": 1}
    assert not (project / "hypotheses/.sealed").exists()  # a dry run seals nothing

    out = snakemake(project)
    assert out.returncode == 0, out.stderr[-3000:]
    verdict = json.loads((project / "results/tiny/verdict.json").read_text())
    assert verdict["verdict"] == "SUPPORTED", verdict["reasons"]
    # Sealed when the workflow started, before its runs were trained: pre-registered, no seen data.
    seal = json.loads((project / "hypotheses/.sealed/tiny.json").read_text())
    assert verdict["preregistration"]["sha256"] == seal["sha256"] and seal["seen"] == {}
    report = (project / "results/tiny/report.md").read_text()
    assert "## Verdict: ✅ SUPPORTED" in report and "wider-fits-better" in report
    assert "Pre-registered: the plan was recorded" in report
    assert (project / "results/tiny/figures/val_acc.png").stat().st_size > 1000
    table = __import__("pandas").read_parquet(project / "results/tiny/observations.parquet")
    assert list(table.columns) == ["condition", "seed", "step", "metric", "value"]
    # Every job's wall time and memory, from Snakemake's benchmark directive.
    for rule, n in {"train": 2, "stats": 1, "report": 1}.items():
        tables = list((project / "results/benchmarks" / rule).glob("*.tsv"))
        assert len(tables) == n and all(float(t.read_text().splitlines()[1].split("\t")[0]) > 0 for t in tables)
    assert planned_jobs(project) == {}

    # Editing only a prediction reruns only the statistics and the report.
    path = project / "hypotheses" / "tiny.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["predictions"][0]["threshold"] = 0.4
    write_yaml(path, spec)
    assert planned_jobs(project) == {"stats": 1, "report": 1, "index": 1}

    # Changing one condition's training retrains exactly that condition.
    spec["conditions"]["small"]["model.params.width"] = 20
    write_yaml(path, spec)
    assert planned_jobs(project) == {"train": 1, "stats": 1, "report": 1, "index": 1}


def test_an_invalid_file_stops_the_dag_before_any_job(tmp_path, tiny):
    tiny["train"]["lr"] = -1
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    out = snakemake(tmp_path, "-n")
    assert out.returncode != 0
    assert re.search(r"hypotheses/tiny.yaml:\d+: train.lr: must be > 0", out.stderr + out.stdout)
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_probes_run_in_the_dag_feed_predictions_and_rerun_only_when_their_inputs_change(tmp_path, tiny):
    tiny["train"].update(snapshots={"every": 75}, weight_decay=1.0)
    tiny["seeds"] = 2
    tiny["probes"] = [{"name": "fourier", "id": "freq", "steps": "snapshots", "top_k": 2},
                      {"name": "ablation", "site": "hidden.0", "behaviour": "loss"}]
    tiny["predictions"].append({"id": "concentrated", "kind": "threshold", "condition": "default", "reduce": "final",
                                "metric": "freq/top_k_fraction@embed", "threshold": 0.1, "direction": "greater"})
    path = write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    assert planned_jobs(tmp_path) == {"train": 1, "probe": 2, "stats": 1, "report": 1, "index": 1}

    out = snakemake(tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    results = tmp_path / "results"
    probes = __import__("pandas").read_parquet(results / "tiny/probes.parquet")
    assert list(probes.columns) == ["condition", "seed", "step", "probe", "metric", "site", "unit", "value"]
    assert sorted(probes[probes.probe == "freq"].step.unique()) == [0, 75, 150]
    assert set(probes.seed) == {0, 1}
    verdict = json.loads((results / "tiny/verdict.json").read_text())
    assert verdict["predictions"]["concentrated"] == "holds", verdict["reasons"]
    report = (results / "tiny/report.md").read_text()
    assert "## Probes" in report and "`freq/top_k_fraction@embed`" in report
    assert (results / "tiny/figures/probe-freq-top_k_fraction-embed.png").stat().st_size > 1000
    assert (results / "tiny/figures/probe-ablation-damage-hidden.0-units.png").stat().st_size > 1000
    assert planned_jobs(tmp_path) == {}

    # Renaming a probe only relabels it: statistics and report, no probe job.
    tiny["probes"][0]["id"] = "fourier"
    tiny["predictions"][-1]["metric"] = "fourier/top_k_fraction@embed"
    write_yaml(path, tiny)
    assert planned_jobs(tmp_path) == {"stats": 1, "report": 1, "index": 1}
    # Changing a probe's parameters reruns that probe only, not training.
    tiny["probes"][0]["top_k"] = 3
    write_yaml(path, tiny)
    assert planned_jobs(tmp_path) == {"probe": 1, "stats": 1, "report": 1, "index": 1}
