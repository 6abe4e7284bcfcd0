"""A real SLURM cluster: the DAG submitted through profiles/slurm trains through sbatch and gives the numbers
and the verdict a workstation gives.

Needs a running cluster: CI starts a one-node one on localhost (`.ci/slurm.sh start`) before the tests.
Without sbatch the test is skipped; with REFUTE_REQUIRE_SLURM=1 (set by .ci/run) a cluster that does not
answer is a failure, not a skip.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import FITS_BY_LOSS, ROOT, write_yaml
from refute.spec.loader import load_hypothesis
from refute.training.loop import fit

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sbatch") is None,
                       reason="no SLURM here (sbatch not found); CI starts a one-node cluster with .ci/slurm.sh start"),
]


@pytest.fixture(scope="module")
def cluster():
    state = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True)
    if state.returncode != 0 or not state.stdout.strip():
        message = f"sbatch is installed but no SLURM controller answers ({state.stderr.strip()}); " \
                  "start one with .ci/slurm.sh start"
        if os.environ.get("REFUTE_REQUIRE_SLURM"):
            pytest.fail(message)
        pytest.skip(message)


def test_the_dag_runs_through_sbatch_to_the_workstation_numbers_and_verdict(cluster, tmp_path, tiny):
    # wide and wide_fast have the same shapes: they train as one pack, whose job's own Snakemake (on the node)
    # must find the pack the workflow planned.
    tiny["conditions"] = {"small": {"model.params.width": 16}, "wide": {"model.params.width": 48},
                          "wide_fast": {"model.params.width": 48, "train.lr": 0.03}}
    tiny["predictions"] = [{**FITS_BY_LOSS, "condition": "wide"}]  # decided by 3 seeds (a spread, not a ceiling)
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
                          "--profile", str(ROOT / "profiles/slurm")],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    verdict = json.loads((tmp_path / "results/tiny/verdict.json").read_text())
    assert verdict["verdict"] == "SUPPORTED", verdict["reasons"]

    hyp = load_hypothesis(tmp_path / "hypotheses/tiny.yaml")
    job_ids = set()
    for cond, run in hyp.conditions.items():
        run_dir = tmp_path / "results/runs" / hyp.runs[cond]
        record = json.loads((run_dir / "run.json").read_text())
        assert record["slurm_job_id"], f"{cond} was not trained inside a SLURM job"
        job_ids.add(record["slurm_job_id"])
        # The numbers are the workstation's: the same training, in this process.
        here = fit(run, log=lambda m: None)
        pd.testing.assert_frame_equal(pd.read_parquet(run_dir / "metrics.parquet"), here.metrics,
                                      check_exact=False, rtol=1e-5, atol=1e-6)

    # SLURM itself knows those jobs (finished jobs stay visible for MinJobAge), and kept their logs.
    listed = subprocess.run(["squeue", "--states=all", "-h", "-o", "%i %T", "-j", ",".join(sorted(job_ids))],
                            capture_output=True, text=True, check=True).stdout.split("\n")
    states = dict(line.split() for line in listed if line.strip())
    assert set(states) == job_ids and set(states.values()) == {"COMPLETED"}
    logs = list((tmp_path / ".snakemake/slurm_logs").rglob("*.log"))
    assert {p.stem for p in logs} >= job_ids
    # Tiny training jobs were bundled into one sbatch; the statistics and report into another.
    assert len(job_ids) == 1 and len(logs) == 2
    # The bundle's log names each training job for people (the SLURM job name is the plugin's run id).
    text = "".join(p.read_text() for p in logs)
    assert f"train tiny.small (run {hyp.runs['small']};" in text
    assert re.search(r"train (tiny\.wide, tiny\.wide_fast|tiny\.wide_fast, tiny\.wide) as one batched model", text)
