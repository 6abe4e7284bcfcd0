"""Live progress of the training jobs a `refute run` is running, read from their progress files.

Two views of the same rows (hypothesis:condition, step/total, current mean loss, ETA):
- bars: a rich progress bar per running job, Snakemake's own log printed above the bars (interactive
  terminals);
- lines: a plain line per job whose progress moved, every few seconds (logs, pipes, SLURM batch jobs).
Only progress files written since the run started are shown, so an old run's file never reads as running.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from refute.layout import PROGRESS, RUN_RECORD, Layout
from refute.training import progress as progress_file
from refute.training.progress import Progress

MODES = ("auto", "bars", "lines", "off")


@dataclass
class Row:
    key: str  # the progress file
    label: str  # hypothesis:condition[, ...] (and the seed chunk, for a split run)
    progress: Progress
    done: bool


def run_labels(plans) -> dict[str, str]:
    """Run hash -> the hypotheses and conditions sharing it, for people: `tiny:default, other:wide`."""
    out: dict[str, list[str]] = {}
    for plan in plans:
        for cond, h in plan.runs.items():
            out.setdefault(h, []).append(f"{plan.id}:{cond}")
    return {h: ", ".join(names) for h, names in out.items()}


def rows(results: str | Path, labels: dict[str, str], since: float) -> list[Row]:
    """Every run (or seed chunk of one) whose progress file was written since `since`."""
    found = []
    for h, label in labels.items():
        run_dir = Layout(results).run_dir(h)
        for path in [run_dir / PROGRESS, *sorted(run_dir.glob(f"seeds-*/{PROGRESS}"))]:
            try:
                if path.stat().st_mtime < since:
                    continue
            except OSError:
                continue
            p = progress_file.read(path)
            if p is None or p.started is None:
                continue
            chunk = f" [{path.parent.name}]" if path.parent != run_dir else ""
            found.append(Row(str(path), label + chunk, p, (path.parent / RUN_RECORD).exists()))
    return found


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def detail(r: Row) -> str:
    p = r.progress
    part = f" (part {p.part + 1}/{p.parts})" if p.parts > 1 else ""
    loss = f"loss {p.loss:.4g}" if p.loss is not None else "loss —"
    when = "done" if r.done else f"ETA {clock(p.eta_s)}"
    return f"step {p.step}/{p.steps}{part}  {loss}  {when}"


def line(r: Row) -> str:
    return f"refute: {r.label}  {detail(r)}"


def choose(mode: str, stream: TextIO = sys.stderr) -> str:
    """The view `auto` means here: bars in an interactive terminal (not inside a SLURM job), else lines."""
    if mode != "auto":
        return mode
    if not stream.isatty() or os.environ.get("SLURM_JOB_ID") or os.environ.get("TERM") == "dumb":
        return "lines"
    try:
        import rich  # noqa: F401
    except ImportError:
        return "lines"
    return "bars"


class LiveView:
    """Polls the progress files in a thread while Snakemake runs; `pipe` takes Snakemake's lines (bars only)."""

    def __init__(self, results: str | Path, labels: dict[str, str], mode: str = "lines", every_s: float = 10.0,
                 stream: TextIO = sys.stderr):
        self.results, self.labels, self.mode, self.stream = results, labels, mode, stream
        self.every_s = every_s if mode == "lines" else 0.5
        self.since = time.time() - 1  # file times may be a little behind this clock
        self._stop = threading.Event()
        self._shown: dict[str, tuple] = {}
        self._last: dict[str, Row] = {}
        self._thread = threading.Thread(target=self._loop, name="refute-live", daemon=True)
        self._bars = None
        if mode == "bars":
            from rich.console import Console
            from rich.progress import BarColumn, Progress as Bars, TextColumn

            self._console = Console(file=stream)
            self._bars = Bars(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"),
                              console=self._console, transient=False, refresh_per_second=4)
            self._tasks: dict[str, int] = {}

    @property
    def pipe(self):
        """Where Snakemake's lines go while bars are drawn (None: Snakemake writes to the terminal itself)."""
        if self._bars is None:
            return None
        return lambda text: self._console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)

    def __enter__(self) -> LiveView:
        if self.mode == "off":
            return self
        if self._bars is not None:
            self._bars.start()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.mode == "off":
            return
        self._stop.set()
        self._thread.join()
        self.poll()  # the last state of every job, even one that began and ended between two polls
        if self._bars is not None:
            self._bars.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.poll()

    def poll(self) -> None:
        now = rows(self.results, self.labels, self.since)
        # A finished job removes its progress file (metrics.parquet supersedes it): done, as last seen.
        gone = [Row(k, r.label, r.progress, True) for k, r in self._last.items()
                if k not in {n.key for n in now} and (Path(k).parent / RUN_RECORD).exists()]
        for r in [*now, *gone]:
            self._last[r.key] = r
            state = (r.progress.part, r.progress.step, r.done)
            if self._shown.get(r.key) == state:
                continue
            self._shown[r.key] = state
            if self._bars is None:
                print(line(r), file=self.stream, flush=True)
                continue
            if r.key not in self._tasks:
                self._tasks[r.key] = self._bars.add_task(r.label, total=1.0, detail="")
            self._bars.update(self._tasks[r.key], completed=1.0 if r.done else r.progress.fraction, detail=detail(r))
