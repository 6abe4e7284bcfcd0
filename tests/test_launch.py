"""`refute run` calls Snakemake as robustly as a user would: targets, config and the user's own options never
mix; a profile means what it means to `snakemake --profile`; Ctrl-C stops everything cleanly."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, TINY, refute_cli, write_yaml
from refute.loop.launch import Invocation, LaunchError, snakemake_argv

SNAKEFILE = ROOT / "Snakefile"


def test_targets_come_last_after_their_own_separator():
    argv = snakemake_argv(Invocation(SNAKEFILE, config=["results=out"], passthrough=["--forcerun", "train"],
                                     targets=["out/a/report.md"]))
    assert argv[-2:] == ["--", "out/a/report.md"]
    assert argv.index("--config") < argv.index("--forcerun") < argv.index("--")
    assert argv[:2] == ["--snakefile", str(SNAKEFILE)]


def test_the_users_own_separator_adds_targets_and_is_not_repeated():
    argv = snakemake_argv(Invocation(SNAKEFILE, passthrough=["-p", "--", "x.txt"], targets=["a/report.md"]))
    assert argv.count("--") == 1 and argv[-3:] == ["--", "a/report.md", "x.txt"]
    assert "--" not in snakemake_argv(Invocation(SNAKEFILE))  # no targets: the workflow's default target


def test_an_unknown_profile_is_an_error():
    with pytest.raises(LaunchError, match="no profile 'nowhere'"):
        snakemake_argv(Invocation(SNAKEFILE, profile="nowhere"))


def _settings(argv: list[str]) -> dict:
    """What Snakemake makes of a command line (run in the project folder), comparably."""
    from snakemake.cli import parse_args

    _, args = parse_args(argv)
    out = {}
    for k, v in vars(args).items():
        if k in ("profile", "workflow_profile"):
            out[k] = [str(Path(p).resolve()) for p in ([v] if isinstance(v, str) else v or [])]
        else:
            out[k] = repr(vars(v)) if hasattr(v, "__dict__") else repr(v)
    return out


@pytest.mark.parametrize("profile", ["slurm", "default"])
def test_a_profile_applies_what_snakemake_applies(profile, monkeypatch):
    monkeypatch.chdir(ROOT)
    plain = ["--snakefile", str(SNAKEFILE), "-n"] + (["--profile", f"profiles/{profile}"] if profile != "default" else [])
    mine = snakemake_argv(Invocation(SNAKEFILE, profile=profile, dry_run=True))
    want, got = _settings(plain), _settings(mine)
    assert got.pop("workflow_profile") == [str(ROOT / "profiles" / "default")]
    want.pop("workflow_profile")  # Snakemake finds the same folder by itself
    assert got == want
    if profile == "slurm":  # the cluster's settings and the workflow profile's, together
        assert "'slurm'" in got["executor"] and got["keep_going"] == "True" and got["rerun_incomplete"] == "True"
        assert got["latency_wait"] == "10"


@pytest.fixture
def project(tmp_path):
    write_yaml(tmp_path / "hyps" / "tiny.yaml", TINY)
    write_yaml(tmp_path / "hyps" / "other.yaml", {**TINY, "id": "other", "seeds": 2})
    return tmp_path


def jobs(dry_run_stdout: str) -> dict[str, int]:
    table = dry_run_stdout.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


@pytest.mark.parametrize("extra", [[], ["--", "--forcerun", "train"], ["--", "--config", "tiny_job_seconds=1"]])
def test_targets_survive_folders_config_and_passthrough_in_a_real_dry_run(project, extra):
    out = refute_cli(project, "run", "-n", "tiny", "--hypotheses", "hyps", "--results", "X",
                     "--snakefile", str(SNAKEFILE), *extra)
    assert out.returncode == 0, out.stderr[-3000:]
    assert jobs(out.stdout) == {"train": 1, "stats": 1, "report": 1}  # tiny alone: no index, not `other`
    assert "X/tiny/report.md" in out.stdout and "X/other" not in out.stdout
    assert not (project / "X").exists()


def _trainers(cwd: Path) -> list[int]:
    """Live training jobs working in `cwd`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            if b"refute.jobs\0train" in cmd and Path(os.readlink(entry / "cwd")) == cwd:
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self").exists(), reason="reads /proc")
def test_ctrl_c_stops_snakemake_and_its_jobs_cleanly(project):
    long = {**TINY, "train": {**TINY["train"], "steps": 200_000, "eval_every": 1000}}
    write_yaml(project / "hyps" / "tiny.yaml", long)
    exe = Path(sys.executable).parent / "refute"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "refute"]
    proc = subprocess.Popen([*cmd, "run", "tiny", "--hypotheses", "hyps", "--snakefile", str(SNAKEFILE),
                             "--progress-every", "0.3"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    logs = project / "results" / "logs" / "train"
    started = lambda: any("step" in p.read_text() for p in logs.glob("*.log"))  # noqa: E731
    while not started() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert _trainers(project), "the training job never started"
    time.sleep(1.5)  # the live view polls
    proc.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends refute
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("refute: interrupted;")
    assert not _trainers(project)  # no orphan
    assert not list((project / ".snakemake" / "locks").glob("*"))  # no stale lock
    assert not (project / "results" / "tiny" / "verdict.json").exists()
    # Meanwhile the live view (plain lines: not a terminal) showed the job by name.
    assert re.search(r"^refute: tiny:default  step \d+/200000  loss \S+  ETA \d+:\d\d", err, re.M), err[-3000:]


def test_the_users_config_joins_refutes_in_one_option():
    argv = snakemake_argv(Invocation(SNAKEFILE, config=["results=X"], passthrough=["-C", "a=1", "b=2", "-p",
                                                                                   "--config=c=3"]))
    assert argv.count("--config") == 1 and "-C" not in argv
    i = argv.index("--config")
    assert argv[i + 1:i + 5] == ["results=X", "a=1", "b=2", "c=3"] and argv[i + 5] == "-p"


def test_a_snakemake_that_does_not_stop_on_ctrl_c_is_sent_sigterm_after_a_grace_period(monkeypatch):
    from refute.loop import launch

    monkeypatch.setattr(launch, "GRACE_S", 0.5)
    deaf = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGINT, "
                             "signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"],
                            stdout=subprocess.PIPE, text=True, process_group=0)
    assert deaf.stdout.readline().strip() == "ready"
    got = [signal.SIGINT]
    os.killpg(deaf.pid, signal.SIGINT)  # lost, as a Ctrl-C can be
    start = time.time()
    assert launch._wait(deaf, got) == -signal.SIGTERM and time.time() - start < 10
    assert got == [signal.SIGINT, signal.SIGTERM]  # refute still reports the Ctrl-C it was sent
