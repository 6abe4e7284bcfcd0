"""The real Snakemake DAG under faults: killed mid-training, fed a bad file, reading a damaged result.

One uninterrupted project and one whose Snakemake is killed with SIGKILL mid-training (the job and
Snakemake together, as a crashed node or `kill -9` would) and then run again; everything they compute
must be identical, and neither may write outside results/ (and Snakemake's own .snakemake/).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, TINY, write_yaml
from refute import io

SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--cores", "2"]
ENV = {**os.environ, "REFUTE_CHECKPOINT_EVERY": "0.05"}


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, "-d", str(workdir), *args], capture_output=True, text=True, timeout=600, env=ENV)


def files(root: Path) -> dict[str, str]:
    """Every file under root (but Snakemake's own bookkeeping), with its sha256."""
    return {str(p.relative_to(root)): io.sha256(p) for p in sorted(root.rglob("*"))
            if p.is_file() and ".snakemake" not in p.relative_to(root).parts}


def new_project(root: Path) -> Path:
    spec = json.loads(json.dumps(TINY))
    spec["train"].update(steps=1500, eval_every=250, batch_size=16)
    write_yaml(root / "hypotheses" / "tiny.yaml", spec)
    return root


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    clean = new_project(tmp_path_factory.mktemp("clean"))
    out = snakemake(clean)
    assert out.returncode == 0, out.stderr[-3000:]

    killed = new_project(tmp_path_factory.mktemp("killed"))
    before = files(killed)
    job = subprocess.Popen([*SNAKEMAKE, "-d", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=ENV, start_new_session=True)
    deadline = time.monotonic() + 300
    while not list(killed.glob("results/runs/*/checkpoint.pt")) and time.monotonic() < deadline:
        assert job.poll() is None, "Snakemake ended before its train job wrote a checkpoint"
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)  # Snakemake and its train job, without warning
    job.wait()
    after_kill = files(killed)
    assert not [f for f in after_kill if f.endswith(("run.json", "metrics.parquet", "weights.pt", "snapshots.pt"))]

    # What a user does after a crash: unlock (Snakemake's guard against two runs at once) and run again.
    assert snakemake(killed, "--unlock").returncode == 0
    rerun = snakemake(killed)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    return {"clean": clean, "killed": killed, "before": before}


@pytest.mark.slow
def test_a_killed_workflow_rerun_gives_the_results_of_an_uninterrupted_one(projects):
    clean, killed = projects["clean"], projects["killed"]
    [log] = (killed / "results" / "logs" / "train").iterdir()
    assert "resuming from the checkpoint at step" in log.read_text()
    a, b = files(clean / "results"), files(killed / "results")
    assert a.keys() == b.keys()
    tables = [f for f in a if f.endswith((".parquet", ".pt", "predictions.json"))]
    assert len(tables) == 7  # metrics, weights, snapshots, observations, probes, reduced, predictions
    assert {f: a[f] for f in tables} == {f: b[f] for f in tables}  # bit-identical
    for name in ("verdict.json",):
        va, vb = (json.loads((p / "results" / "tiny" / name).read_text()) for p in (clean, killed))
        assert va["verdict"] == vb["verdict"] == "SUPPORTED"
        assert va["sha256"] == vb["sha256"]


@pytest.mark.slow
def test_nothing_is_written_outside_results(projects):
    for project in (projects["clean"], projects["killed"]):
        outside = [f for f in files(project) if not f.startswith("results/")]
        assert outside == ["hypotheses/tiny.yaml"]
        assert files(project)["hypotheses/tiny.yaml"] == projects["before"]["hypotheses/tiny.yaml"]
    assert not list(projects["killed"].glob("results/runs/*/checkpoint.pt"))  # removed once complete


@pytest.mark.slow
def test_a_bad_file_stops_the_workflow_and_loses_nothing_computed(projects, tiny):
    project = projects["killed"]
    before = files(project / "results")
    tiny["id"] = "second"
    tiny["train"]["steps"] = "many"
    write_yaml(project / "hypotheses" / "second.yaml", tiny)
    try:
        out = snakemake(project)
        assert out.returncode == 1
        assert "hypotheses/second.yaml:" in out.stderr and "train.steps: must be a valid integer" in out.stderr
        assert files(project / "results") == before
    finally:
        (project / "hypotheses" / "second.yaml").unlink()


@pytest.mark.slow
def test_a_damaged_result_is_reported_by_the_job_that_reads_it(projects):
    project = projects["clean"]
    [metrics] = project.glob("results/runs/*/metrics.parquet")
    metrics.write_bytes(metrics.read_bytes()[:100])
    out = snakemake(project, "--forcerun", "stats")
    assert out.returncode != 0
    assert f"{metrics.relative_to(project)} is corrupt or truncated" in out.stdout + out.stderr
