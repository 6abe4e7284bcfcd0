"""A job ends with the workflow that started it.

Killing Snakemake (kill -9, a closed terminal) leaves its jobs running; a training job left behind would
race the rerun's own job and its checkpoint. So a job finds the Snakemake process among its ancestors and
exits, quietly, once that process is gone (its checkpoint stays, and the rerun resumes from it).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

POLL_S = 1.0


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the field after the command name is the parent's pid


def _is_snakemake(pid: int) -> bool:
    try:
        return any(b"snakemake" in part for part in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"))
    except OSError:
        return False


def workflow_pid(pid: int | None = None) -> int | None:
    """The outermost Snakemake process among this process's ancestors (None without one, or off Linux)."""
    found, pid = None, _parent(pid or os.getpid())
    while pid and pid > 1:
        if _is_snakemake(pid):
            found = pid
        pid = _parent(pid)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped) is dead for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def exit_with_workflow(log=print) -> int | None:
    """Watch the Snakemake process that started this job, and end the job when it is gone."""
    pid = workflow_pid()
    if pid is None:
        return None

    def watch() -> None:
        while alive(pid):
            time.sleep(POLL_S)
        log(f"the workflow (Snakemake, pid {pid}) is gone: stopping this job; a rerun resumes from its checkpoint")
        os._exit(143)

    threading.Thread(target=watch, name="exit-with-workflow", daemon=True).start()
    return pid
