"""Threads come from the CPUs a job was given, not the machine's core count, and a job beside a busy process
keeps its numbers (issue 17, graceful under load). Speed under load is a benchmark (benchmarks/trainer_speed.py
--parts load), not a test: here only what holds whatever the timing."""

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from refute.scaling import cpus, tuning
from refute.spec.schema import RunSpec
from refute.training.loop import fit
from test_chunk_invariance import CASES, assert_same_seeds, run_spec

needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this OS")
BIG_STEP = 1e12  # FLOPs per step: a model that gets every CPU the job has


def first_cpu() -> int:
    return min(os.sched_getaffinity(0))


@needs_affinity
def test_a_process_pinned_to_one_cpu_gets_one_thread_for_a_big_model():
    code = ("import os; os.sched_setaffinity(0, {%d})\n"
            "from refute.scaling import cpus, tuning; print(cpus.allotted(), tuning.threads(%r))") % (first_cpu(), BIG_STEP)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert out == ["1", "1"]
    assert tuning.threads(BIG_STEP) == cpus.allotted() == len(os.sched_getaffinity(0))


def cgroup_tree(tmp_path, v2: dict[str, str] = {}, v1: dict[str, tuple[int, int]] = {}, path: str = "/job/step"):
    """A cgroup file system under tmp_path: cpu.max (v2) or cfs quota and period (v1) per folder."""
    root = tmp_path / "cgroup"
    for folder, text in v2.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "cpu.max").write_text(text + "\n")
    for folder, (quota, period) in v1.items():
        (root / "cpu,cpuacct" / folder).mkdir(parents=True, exist_ok=True)
        (root / "cpu,cpuacct" / folder / "cpu.cfs_quota_us").write_text(f"{quota}\n")
        (root / "cpu,cpuacct" / folder / "cpu.cfs_period_us").write_text(f"{period}\n")
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(f"0::{path}\n" if v2 else f"5:memory:/elsewhere\n3:cpu,cpuacct:{path}\n")
    return root, proc


def test_a_cgroup_v2_quota_bounds_the_cpus_rounded_up_and_the_tightest_ancestor_wins(tmp_path):
    root, proc = cgroup_tree(tmp_path, v2={"job": "max 100000", "job/step": "150000 100000"})
    assert cpus.cgroup_quota(root, proc) == 2
    root, proc = cgroup_tree(tmp_path / "b", v2={"job": "100000 100000", "job/step": "max 100000"})
    assert cpus.cgroup_quota(root, proc) == 1
    assert cpus.allotted({}, root, proc) == 1
    root, proc = cgroup_tree(tmp_path / "c", v2={"job": "max 100000"})
    assert cpus.cgroup_quota(root, proc) is None
    assert cpus.allotted({}, root, proc) == cpus.affinity()


def test_a_cgroup_v1_quota_counts_and_minus_one_means_none(tmp_path):
    root, proc = cgroup_tree(tmp_path, v1={"": (-1, 100000), "job": (50000, 100000), "job/step": (-1, 100000)})
    assert cpus.cgroup_quota(root, proc) == 1
    root, proc = cgroup_tree(tmp_path / "b", v1={"": (-1, 100000)})
    assert cpus.cgroup_quota(root, proc) is None


def test_inside_a_container_the_mount_is_the_cgroup_when_the_path_names_the_host(tmp_path):
    root, proc = cgroup_tree(tmp_path, v2={"": "100000 100000"}, path="/host/slice/container")
    assert cpus.cgroup_quota(root, proc) == 1


def test_no_cgroup_file_system_means_no_quota(tmp_path):
    assert cpus.cgroup_quota(tmp_path / "none", tmp_path / "no-proc-file") is None


def test_slurm_cpus_per_task_bounds_the_cpus_and_junk_is_ignored(tmp_path):
    nothing = (tmp_path / "none", tmp_path / "no-proc-file")
    assert cpus.allotted({"SLURM_CPUS_PER_TASK": "1"}, *nothing) == 1
    assert cpus.allotted({"SLURM_CPUS_PER_TASK": "4096"}, *nothing) == cpus.affinity()
    assert cpus.allotted({"SLURM_CPUS_PER_TASK": "two"}, *nothing) == cpus.affinity()


def test_the_user_s_own_openmp_wait_policy_is_kept(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert tuning.configure_openmp() == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert tuning.configure_openmp() == "PASSIVE" == os.environ["OMP_WAIT_POLICY"]


# A small grokking MLP, products big enough to be split across threads, short enough for a test.
SPEC = {"task": {"name": "modular_arithmetic", "params": {"p": 53, "train_fraction": 0.3}},
        "model": {"name": "mlp", "params": {"width": 256, "d_embed": 64}}, "seeds": 2,
        "train": {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1.0, "batch_size": "full", "steps": 4,
                  "eval_every": 2}, "observables": ["loss", "accuracy"]}


def train_job(tmp_path, name: str, threads: int, pin: int | None = None) -> tuple[dict, str]:
    """The workflow's train job in its own process (OpenMP's settings are read once per process), with
    OpenMP listing its settings in the log; `pin`: run it on that one CPU only."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(RunSpec.model_validate(SPEC).model_dump(mode="json")))
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run([sys.executable, "-m", "refute.jobs", "train", str(spec), "--out", str(tmp_path / name),
                           "--threads", str(threads)], env={**env, "OMP_DISPLAY_ENV": "VERBOSE"},
                          preexec_fn=None if pin is None else (lambda: os.sched_setaffinity(0, {pin})),
                          check=True, capture_output=True, text=True)
    return json.loads((tmp_path / name / "run.json").read_text()), done.stdout + done.stderr


@needs_affinity
def test_a_job_pinned_to_one_cpu_trains_with_one_thread_whatever_snakemake_offered(tmp_path):
    record, _ = train_job(tmp_path, "pinned", threads=2, pin=first_cpu())
    assert record["threads"] == 1


@pytest.fixture
def busy_cpu():
    """A CPU-bound competitor: a busy loop pinned to the first CPU this process may use."""
    cpu = first_cpu()
    competitor = subprocess.Popen([sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"])
    time.sleep(0.3)  # running before the job starts
    yield cpu
    competitor.kill()
    competitor.wait()


def idle_and_beside(tmp_path, request) -> tuple[tuple[dict, str], tuple[dict, str]]:
    idle = train_job(tmp_path, "idle", threads=2)
    request.getfixturevalue("busy_cpu")
    return idle, train_job(tmp_path, "busy", threads=2)


@needs_affinity
def test_beside_a_busy_process_a_job_keeps_its_threads_its_passive_openmp_and_its_numbers(tmp_path, request):
    (idle, idle_log), (busy, busy_log) = idle_and_beside(tmp_path, request)
    # The thread count comes from the CPUs the job was given, never from how busy they are.
    assert idle["threads"] == busy["threads"] == min(2, cpus.allotted())
    # Passive waiting reached the OpenMP runtime torch loaded (GNU's lists its spin count: none at all).
    for log in (idle_log, busy_log):
        assert "OMP_WAIT_POLICY = 'PASSIVE'" in log, log[-2000:]
        if "GOMP_SPINCOUNT" in log:
            assert "GOMP_SPINCOUNT = '0'" in log
    # The same numbers, bit for bit: checksums of metrics, weights and snapshots.
    assert idle["sha256"] == busy["sha256"]


@pytest.mark.parametrize("case", CASES)
def test_one_thread_and_two_give_the_same_numbers(case):
    """Why a job may take its threads from the CPUs it was given (one under `--cpus-per-task=1`, two on this
    workstation) and still be reproduced: for every model family and optimizer the count does not move a
    bit. Not a licence to pick threads by the machine's load: only 1 and 2 are checked here, and BLAS may
    split a product differently at other counts."""
    before = torch.get_num_threads()
    try:
        fits = []
        for n in (1, 2):
            torch.set_num_threads(n)
            fits.append(fit(run_spec(case, [0, 3, 5]), log=lambda m: None))
    finally:
        torch.set_num_threads(before)
    assert_same_seeds(*fits, [0, 3, 5])
