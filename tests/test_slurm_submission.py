"""What profiles/slurm submits, without a cluster: the real Snakemake and the real executor plugin, with an
`sbatch` on PATH that records each submission and refuses it (and an `sinfo` naming one partition).

- A tiny-job bundle runs its members one after another (the plugin runs Snakemake inside the sbatch with
  `--jobs 1`, and its jobstep executor waits for each job), so it must ask for the largest member's CPUs and
  memory and the sum of their time limits.
- Jobs carry names for people: Snakemake's message for a training job names the hypotheses and conditions
  sharing its run. (The plugin fixes the SLURM job name to the workflow's run id, which its status queries
  filter on, and the comment to the rule and wildcards; it rejects both in `slurm_extra`.)
"""

import os
import re
import subprocess
import sys

from conftest import ROOT, write_yaml
from refute.scaling import costs
from refute.workflow.agenda import load_agenda

FAKE_SBATCH = """#!/bin/sh
printf '%s\\n' "$*" >> "$FAKE_SBATCH_LOG"
echo "sbatch: error: recorded by the test, not submitted" >&2
exit 1
"""


def _fake_slurm(folder):
    folder.mkdir()
    for name, text in {"sbatch": FAKE_SBATCH, "sinfo": "#!/bin/sh\necho PARTITION\necho main*\n",
                       "sacct": "#!/bin/sh\nexit 1\n", "sacctmgr": "#!/bin/sh\nexit 1\n"}.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)


def _submit(tmp_path, *hypotheses) -> tuple[list[str], str]:
    """Run the workflow through profiles/slurm with the recording sbatch: (each sbatch call, Snakemake's log)."""
    for h in hypotheses:
        write_yaml(tmp_path / "hypotheses" / f"{h['id']}.yaml", h)
    _fake_slurm(tmp_path / "bin")
    log = tmp_path / "sbatch.log"
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", "FAKE_SBATCH_LOG": str(log)}
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
                          "--profile", str(ROOT / "profiles/slurm")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode != 0 and log.exists(), (out.stdout + out.stderr)[-3000:]
    return log.read_text().splitlines(), out.stdout + out.stderr


def _shared(tiny) -> tuple[dict, dict]:
    """alpha (two widths) and beta, which shares alpha's wide run."""
    alpha = {**tiny, "id": "alpha", "conditions": {"small": {"model.params.width": 16},
                                                   "wide": {"model.params.width": 48}},
             "predictions": [{**tiny["predictions"][0], "condition": "wide"}]}
    beta = {**tiny, "id": "beta", "model": {"name": "mlp", "params": {"width": 48, "d_embed": 8}}}
    return alpha, beta


def test_a_tiny_job_bundle_asks_for_its_members_one_after_another_and_jobs_are_named_for_people(tmp_path, tiny):
    calls, output = _submit(tmp_path, *_shared(tiny))
    assert len(calls) == 1, calls  # both training runs are tiny: one bundle
    call = calls[0]
    assert "group_tiny_train" in call

    agenda = load_agenda(tmp_path / "hypotheses", tmp_path / "results")
    runs = sorted(agenda.runs)
    assert len(runs) == 2 and all(f"train:run={h}" in call for h in runs)
    threads = [agenda.threads(h) for h in runs]
    limits = [costs.runtime_min(agenda.job_cost(h), "cpu", t) for h, t in zip(runs, threads)]
    memory = [costs.mem_mb(agenda.job_cost(h), "cpu") for h in runs]
    asked = {"time": int(re.search(r" -t (\d+)", call)[1]), "mem": int(re.search(r" --mem (\d+)", call)[1]),
             "cpus": int(re.search(r"--cpus-per-task=(\d+)", call)[1])}
    # One after another: the sum of the time limits, the largest member's CPUs and memory.
    assert asked == {"time": sum(limits), "mem": max(memory), "cpus": max(threads)}

    # Names for people, in Snakemake's log of the submission (the run hash stays the key).
    shared = next(h for h in runs if len(agenda.users[h]) == 2)
    assert f"train alpha.wide, beta.default (run {shared};" in output


def test_tiny_jobs_asking_for_different_devices_go_to_separate_bundles(tmp_path, tiny):
    """A bundle's jobs must agree on every text resource (the device a job asks for is one)."""
    alpha, beta = _shared(tiny)
    on_cpu = {**tiny, "id": "on-cpu", "model": {"name": "mlp", "params": {"width": 24, "d_embed": 8}},
              "compute": {"device": "cpu"}}
    calls, output = _submit(tmp_path, alpha, beta, on_cpu)
    assert "not all jobs in group require the same value" not in output
    cpu_run = load_agenda(tmp_path / "hypotheses", tmp_path / "results").hypotheses["on-cpu"].runs["default"]
    assert len(calls) == 2, calls
    alone = [c for c in calls if f"train:run={cpu_run}" in c]
    assert len(alone) == 1 and alone[0].count("train:run=") == 1
