"""Which code decided a verdict: the git commit, and whether tracked files had uncommitted edits, of each folder
that holds code or plans (the refute package, the hypotheses, the project's own components folder when there
is one). No git, or not a repository: "unknown", never an error."""

from __future__ import annotations

import subprocess
from pathlib import Path

UNKNOWN = "unknown"


def _git(folder: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state(folder: str | Path) -> dict[str, str]:
    """{"folder", "commit" (or "unknown"), "dirty": "yes" | "no" | "unknown"} for the repository holding `folder`.
    Dirty means a tracked file differs from the commit (untracked files, such as new drafts, do not count)."""
    folder = Path(folder).resolve()
    commit = _git(folder, "rev-parse", "HEAD") if folder.is_dir() else None
    if not commit:
        return {"folder": str(folder), "commit": UNKNOWN, "dirty": UNKNOWN}
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    dirty = UNKNOWN if status is None else "yes" if status else "no"
    return {"folder": str(folder), "commit": commit, "dirty": dirty}


def code_versions(hypothesis_file: str | Path) -> dict[str, dict[str, str]]:
    """The git state of the refute package's source, of the hypothesis file's folder and of the project's
    components folder (refute.components.user), if it has one."""
    import refute
    from refute.components.user import folder_for

    out = {"refute": git_state(Path(refute.__file__).parent), "hypotheses": git_state(Path(hypothesis_file).parent)}
    components = folder_for(Path(hypothesis_file).parent)
    if components.is_dir():
        out["components"] = git_state(components)
    return out
