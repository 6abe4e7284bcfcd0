"""Atomic writes and verified reads.

An output appears complete or not at all (temp file + rename), so a killed job leaves nothing
half-written. A file's sha256 is recorded, when it is written, in the record that marks its stage
complete (run.json, verdict.json), and checked when it is read, so a file truncated or corrupted later
(a full disk, a bad copy, a hand edit) stops the workflow with its name instead of being read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


class CorruptOutput(RuntimeError):
    """A results file does not match what was written: truncated, corrupted or edited."""


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _fsync(tmp)
        # mkstemp makes the file readable by its owner only; an output is as readable as any file this
        # user creates (colleagues on a shared lab file system read reports, tables and weights).
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; set it straight back
    os.umask(mask)
    return mask


def _fsync(path: str | Path) -> None:
    # Data on disk before the rename makes it visible, so a crash cannot leave a renamed empty file.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_parquet(path: str | Path, df) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_torch(path: str | Path, obj: Any) -> None:
    import torch

    # Through a file object: given a path, torch names the archive inside after the (random) temp
    # file's name, and the same tensors would not give the same bytes.
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checksums(folder: str | Path, names: list[str]) -> dict[str, str]:
    """{name: sha256} of files in `folder`, for the record that marks them complete."""
    return {name: sha256(Path(folder) / name) for name in names}


def verify(path: str | Path, record: dict, record_path: str | Path) -> Path:
    """Check `path` against the sha256 its completion record holds (records from before checksums
    were kept hold none, and are trusted)."""
    path = Path(path)
    expected = record.get("sha256", {}).get(path.name)
    if expected is not None:
        if not path.exists():
            raise CorruptOutput(f"{path} is missing, though {record_path} marks it written; {_fix(path)}")
        if sha256(path) != expected:
            raise CorruptOutput(f"{path} is corrupt or truncated: its sha256 differs from the one {record_path} "
                                f"recorded when it was written; {_fix(path)}")
    return path


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptOutput(f"{path} is corrupt or truncated ({exc}); {_fix(path)}") from None


def read_parquet(path: str | Path, record: dict, record_path: str | Path):
    import pandas as pd

    return pd.read_parquet(verify(path, record, record_path))


def _fix(path: Path) -> str:
    return f"delete {path.parent} and run the workflow again to recompute it"
