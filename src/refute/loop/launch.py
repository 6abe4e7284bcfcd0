"""`refute run` as robust as calling Snakemake: one function builds the command line, another runs it.

The command line keeps its parts apart, whatever the user passes: Snakemake's options (those refute sets,
then `--config`, then the user's own after `refute run ... --`), and the targets last, after a `--` of their
own, so an option that takes a list (`--config`, `--forcerun`) never swallows a target.

Profiles: `refute run --profile P` applies exactly what `snakemake --profile P` applies in the project
folder: P as a global profile, then the workflow profile profiles/default/ over it (Snakemake reads it on
every run; its keys win). `--profile default` (refute's default) is the workflow profile alone.

Signals: Snakemake runs in a process group of its own, with its jobs. A Ctrl-C (or a SIGTERM) sent to
refute is sent on as SIGINT to that whole group, as a terminal would send it to a plain `snakemake` run: the
jobs stop, Snakemake removes their incomplete outputs and releases its lock, and refute waits for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

WORKFLOW_PROFILE = "default"  # the folder under profiles/ that Snakemake reads on every run


class LaunchError(Exception):
    """A command line that cannot be built (a profile that does not exist)."""


@dataclass(frozen=True)
class Invocation:
    """Everything `refute run` passes to Snakemake, as the user gave it."""

    snakefile: Path
    profile: str = WORKFLOW_PROFILE  # a folder, or the name of one under the workflow's profiles/
    cores: str | None = None  # None: the profile's (profiles/default: all)
    config: list[str] = field(default_factory=list)  # k=v entries
    dry_run: bool = False
    passthrough: list[str] = field(default_factory=list)  # the user's Snakemake options, as given
    targets: list[str] = field(default_factory=list)  # files to make (none: the workflow's default target)


def profiles(snakefile: Path, profile: str) -> tuple[Path | None, Path]:
    """(the global profile, or None; the workflow profile) that `snakemake --profile <profile>` would read."""
    workflow = (snakefile.parent / "profiles" / WORKFLOW_PROFILE).resolve()
    path = Path(profile) if Path(profile).is_dir() else snakefile.parent / "profiles" / profile
    if not path.is_dir():
        raise LaunchError(f"no profile {profile!r}: neither a folder nor {path}")
    path = path.resolve()
    return (None if path == workflow else path), workflow


def snakemake_argv(inv: Invocation) -> list[str]:
    """Snakemake's arguments (after `snakemake`) for `inv`: options, config, the user's options, `--`, targets."""
    profile, workflow = profiles(inv.snakefile, inv.profile)
    argv = ["--snakefile", str(inv.snakefile)]
    if profile is not None:
        argv += ["--profile", str(profile)]
    argv += ["--workflow-profile", str(workflow)]
    if inv.cores is not None:
        argv += ["--cores", str(inv.cores)]
    if inv.dry_run:
        argv.append("--dry-run")
    # The user's own `--` (refute run -- --forcerun train -- some/file): what follows it is targets too.
    passthrough, extra = list(inv.passthrough), []
    if "--" in passthrough:
        cut = passthrough.index("--")
        passthrough, extra = passthrough[:cut], passthrough[cut + 1:]
    passthrough, config = _split_config(passthrough)
    if inv.config or config:  # one --config: a second one would replace the first
        argv += ["--config", *inv.config, *config]
    argv += passthrough
    targets = [*inv.targets, *extra]
    if targets:
        argv += ["--", *targets]
    return argv


def _split_config(options: list[str]) -> tuple[list[str], list[str]]:
    """(the options without any --config/-C, the k=v entries those gave), so refute's own entries and the
    user's go into one --config, the user's last (they win)."""
    rest, config, taking = [], [], False
    for word in options:
        if word in ("--config", "-C"):
            taking = True
        elif word.startswith("--config="):
            config.append(word.removeprefix("--config="))
            taking = True
        elif taking and not word.startswith("-"):
            config.append(word)
        else:
            taking = False
            rest.append(word)
    return rest, config


@dataclass
class Outcome:
    code: int  # Snakemake's exit status
    interrupted: int | None = None  # the first signal refute was sent, if any


GRACE_S = 20  # after a forwarded Ctrl-C, how long Snakemake may take before it is sent SIGTERM


def _wait(proc: subprocess.Popen, got: list[int]) -> int:
    """Wait for Snakemake. Once a signal was forwarded, give it GRACE_S to stop its jobs and go; past that
    (a Ctrl-C that reached Snakemake mid-way through something and was lost), send its group SIGTERM,
    which Snakemake also answers by stopping its jobs and removing its lock."""
    while True:
        try:
            return proc.wait(timeout=GRACE_S if got else 1)
        except subprocess.TimeoutExpired:
            if got and got[-1] != signal.SIGTERM:
                got.append(signal.SIGTERM)
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass


def run_snakemake(argv: list[str], pipe: Callable[[str], None] | None = None, cwd: str | Path | None = None
                  ) -> Outcome:
    """Run `python -m snakemake <argv>` and wait for it, forwarding SIGINT and SIGTERM to its process group.

    With `pipe`, every line Snakemake prints (stdout and stderr together) goes to pipe(line) instead of the
    terminal (a live display draws around it); else Snakemake writes to refute's own stdout and stderr.
    """
    import threading

    out = subprocess.PIPE if pipe else None
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", *argv], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=subprocess.STDOUT if pipe else None, text=True, bufsize=1,
                            process_group=0)
    got: list[int] = []

    def forward(signum, frame):
        got.append(signum)
        try:
            os.killpg(proc.pid, signal.SIGINT)  # the group: Snakemake and the jobs it runs here
        except ProcessLookupError:
            pass

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if pipe:
            reader = threading.Thread(target=lambda: [pipe(line.rstrip("\n")) for line in proc.stdout], daemon=True)
            reader.start()
        code = _wait(proc, got)
        if pipe:
            reader.join(timeout=5)  # a job Snakemake left behind may hold the pipe open
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return Outcome(code, got[0] if got else None)
