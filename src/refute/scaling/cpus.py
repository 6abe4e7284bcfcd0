"""How many CPUs this process may use: what a job's thread count is bounded by.

`os.cpu_count()` counts the machine's cores, not the job's: a job pinned by `taskset`, a container
with a CPU quota or a SLURM task with `--cpus-per-task` has fewer, and a thread per core it does
not have only waits for the others (issue 17 saw 2-thread jobs fall to a few percent of their speed
beside a busy process). The answer depends on what the job was given, never on the machine's load,
so the thread count it sets, and with it a run's numbers, stay reproducible.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def allotted(environ: Mapping[str, str] | None = None, cgroup_root: Path = CGROUP_ROOT,
             proc_cgroup: Path = PROC_CGROUP) -> int:
    """The fewest of: the CPUs in this process's affinity mask, its cgroup's CPU quota (rounded up),
    and SLURM's `SLURM_CPUS_PER_TASK`; at least 1. Each limit counts only where it is set."""
    environ = os.environ if environ is None else environ
    limits = [affinity()]
    quota = cgroup_quota(cgroup_root, proc_cgroup)
    if quota is not None:
        limits.append(quota)
    slurm = environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.strip().isdigit() and int(slurm) > 0:
        limits.append(int(slurm))
    return max(1, min(limits))


def affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity masks (macOS): every core
        return os.cpu_count() or 1


def cgroup_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int | None:
    """CPUs' worth of this process's cgroup CPU quota (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us` over
    `cpu.cfs_period_us`), the tightest along its cgroup's path; None where no quota is set or readable."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # v2: one unified hierarchy
            quotas += [_v2(d) for d in _along(root, path)]
        elif "cpu" in controllers.split(","):  # v1: the cpu controller's own hierarchy
            mount = next((root / m for m in ("cpu", "cpu,cpuacct", "cpuacct,cpu") if (root / m).is_dir()), None)
            if mount is not None:
                quotas += [_v1(d) for d in _along(mount, path)]
    found = [q for q in quotas if q is not None]
    return min(found) if found else None


def _along(mount: Path, path: str) -> list[Path]:
    """The cgroup's folder and its ancestors under the mount. Inside a container the path may name the
    host's hierarchy while the mount shows only the container's own cgroup: then the mount itself."""
    parts = [p for p in path.strip().split("/") if p]
    folders = [mount.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]
    return [d for d in folders if d.is_dir()] or [mount]


def _v2(folder: Path) -> int | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else _cpus(int(quota), int(period))


def _v1(folder: Path) -> int | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 else _cpus(quota, period)


def _cpus(quota: int, period: int) -> int | None:
    return max(1, math.ceil(quota / period)) if period > 0 else None
