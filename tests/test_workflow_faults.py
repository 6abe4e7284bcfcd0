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

from conftest import FITS_BY_LOSS, ROOT, TINY, write_yaml
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
    spec["predictions"] = [FITS_BY_LOSS]  # decided by 3 seeds: a verdict that could differ between the projects
    write_yaml(root / "hypotheses" / "tiny.yaml", spec)
    return root


def start_until_checkpoint(project: Path) -> subprocess.Popen:
    """Snakemake running on `project` in its own session, returned once its train job has saved a checkpoint."""
    job = subprocess.Popen([*SNAKEMAKE, "-d", str(project)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=ENV, start_new_session=True)
    deadline = time.monotonic() + 300
    while not list(project.glob("results/runs/*/checkpoint.pt")) and time.monotonic() < deadline:
        assert job.poll() is None, "Snakemake ended before its train job wrote a checkpoint"
        time.sleep(0.05)
    return job


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    clean = new_project(tmp_path_factory.mktemp("clean"))
    out = snakemake(clean)
    assert out.returncode == 0, out.stderr[-3000:]

    killed = new_project(tmp_path_factory.mktemp("killed"))
    before = files(killed)
    job = start_until_checkpoint(killed)
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
def test_nothing_is_written_outside_results_but_the_seal(projects):
    # The seal sits beside the hypothesis on purpose: deleting results/ must not reset it.
    for project in (projects["clean"], projects["killed"]):
        outside = [f for f in files(project) if not f.startswith("results/")]
        assert outside == ["hypotheses/.sealed/tiny.json", "hypotheses/tiny.yaml"]
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


@pytest.mark.slow
def test_a_deleted_or_damaged_run_is_made_again_with_everything_downstream(tmp_path):
    """The documented recovery works: delete a run's folder (after damage, or to free space) and run again."""
    project = tmp_path
    spec = json.loads(json.dumps(TINY))
    spec["train"].update(steps=60, eval_every=20)
    write_yaml(project / "hypotheses" / "tiny.yaml", spec)
    assert snakemake(project).returncode == 0
    (run,) = list((project / "results" / "runs").iterdir())
    first = json.loads((project / "results/tiny/verdict.json").read_text())
    table = io.sha256(run / "metrics.parquet")

    # Damaged: the reading job fails naming the file; deleting the run folder is the fix.
    with open(run / "metrics.parquet", "r+b") as f:
        f.seek(100)
        f.write(b"\x00" * 16)
    (project / "results/tiny/verdict.json").unlink()  # so the statistics must read the damaged table
    out = snakemake(project)
    assert out.returncode != 0 and "metrics.parquet is corrupt" in (out.stderr + out.stdout +
                                                                      "".join(p.read_text() for p in (project / "results/logs/stats").glob("*.log")))
    import shutil

    shutil.rmtree(run)
    out = snakemake(project)
    assert out.returncode == 0, out.stderr[-3000:]
    assert io.sha256(run / "metrics.parquet") == table  # retrained, bit for bit
    again = json.loads((project / "results/tiny/verdict.json").read_text())
    assert again["verdict"] == first["verdict"] and again["predictions"] == first["predictions"]

    # Deleted while the reports still exist: the run, its statistics and its report are made again.
    shutil.rmtree(run)
    report = project / "results/tiny/report.md"
    stamp = report.stat().st_mtime_ns
    out = snakemake(project)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (run / "run.json").exists() and report.stat().st_mtime_ns > stamp
    assert "Nothing to be done" in snakemake(project).stdout + snakemake(project).stderr


def train_jobs(project: Path) -> list[int]:
    """Pids of the training jobs working on `project` (/proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmd = (entry / "cmdline").read_bytes()
            if entry.name.isdigit() and b"refute.jobs\x00train" in cmd and str(project).encode() in \
                    os.readlink(entry / "cwd").encode() + cmd:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.slow
def test_a_killed_workflow_takes_its_jobs_with_it_and_status_names_the_stale_lock(tmp_path):
    from refute.loop.status import STALE_LOCK, status

    project = new_project(tmp_path)
    job = start_until_checkpoint(project)
    assert train_jobs(project), "no training job found"
    os.kill(job.pid, signal.SIGKILL)  # Snakemake alone: its training job is left behind
    job.wait()
    deadline = time.monotonic() + 30
    while train_jobs(project) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not train_jobs(project), "the training job outlived its workflow"

    rows = status("results", ROOT / "Snakefile", project)
    assert [r.state for r in rows] == [STALE_LOCK] and "--unlock" in rows[0].why
    assert snakemake(project, "--unlock").returncode == 0
    out = snakemake(project)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((project / "results/tiny/verdict.json").read_text())["verdict"]
