"""A run's progress while it trains: progress.jsonl beside its outputs, one JSON object a line, appended.

A side channel for people (`refute run`'s live view, `refute watch`): written as training goes, never an
output of a rule, never in a checksum, never read by the statistics; the final metrics.parquet supersedes it
(the job removes it once the run is complete).
Writing it reads values the loop has already computed (the current loss, the logged metrics) and changes
no number of the run.

Lines, in the order they are written:
    {"start": unix time, "seeds": [...], "steps": N, "part": i, "parts": n}   a (chunk of) seeds starts
    {"step": s, "steps": N, "part": i, "parts": n, "loss": mean, "time": t}  at most once a second
    {"step": s, "metric": name, "values": [per seed, null once diverged]}     each logged metric
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from refute.layout import PROGRESS

FILE = PROGRESS
EVERY_S = 1.0  # the most often a step line is written


class ProgressWriter:
    """Appends progress lines to one file; each line is written whole and flushed, so a reader sees whole lines."""

    def __init__(self, path: str | Path, every_s: float = EVERY_S, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.every_s, self.clock = every_s, clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "w", encoding="utf-8")  # a rerun starts the file again
        self._last = -math.inf
        self.part, self.parts, self.steps = 0, 1, 0

    def _write(self, obj: dict) -> None:
        self._f.write(json.dumps(obj, allow_nan=False) + "\n")
        self._f.flush()

    def start(self, seeds: list[int], steps: int, part: int = 0, parts: int = 1) -> None:
        self.part, self.parts, self.steps = part, parts, steps
        self._last = -math.inf
        self._write({"start": round(self.clock(), 3), "seeds": list(seeds), "steps": steps, "part": part,
                     "parts": parts})

    def due(self, step: int) -> bool:
        """Whether a step line is due (at most one a second, and always the last step)."""
        return step >= self.steps or self.clock() - self._last >= self.every_s

    def step(self, step: int, loss: float) -> None:
        self._last = now = self.clock()
        self._write({"step": step, "steps": self.steps, "part": self.part, "parts": self.parts,
                     "loss": loss if math.isfinite(loss) else None, "time": round(now, 3)})

    def metric(self, step: int, name: str, values, alive) -> None:
        vals = [float(v) if a and math.isfinite(float(v)) else None for v, a in zip(values, alive)]
        self._write({"step": step, "metric": name, "values": vals})

    def close(self) -> None:
        self._f.close()


@dataclass
class Progress:
    """What a progress file says so far."""

    started: float | None = None  # unix time the first part started
    seeds: list[int] = field(default_factory=list)
    step: int = 0
    steps: int = 0
    part: int = 0
    parts: int = 1
    loss: float | None = None
    time: float | None = None  # of the last step line
    curves: dict[str, list[tuple[int, list[float | None]]]] = field(default_factory=dict)  # metric -> (step, values)

    @property
    def fraction(self) -> float:
        """Share of the job's training done, 0..1."""
        if not self.steps:
            return 0.0
        return min(1.0, (self.part + self.step / self.steps) / max(1, self.parts))

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (None before there is a pace)."""
        f = self.fraction
        if self.started is None or self.time is None or f <= 0:
            return None
        return max(0.0, (self.time - self.started) * (1 - f) / f)


def read(path: str | Path) -> Progress | None:
    """The progress file at `path` (None if there is none); a half-written last line is skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    p = Progress()
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "start" in obj:
            if p.started is None:
                p.started = obj["start"]
            p.seeds = sorted({*p.seeds, *obj["seeds"]})
            p.steps, p.part, p.parts, p.step = obj["steps"], obj["part"], obj["parts"], 0
        elif "metric" in obj:
            p.curves.setdefault(obj["metric"], []).append((obj["step"], obj["values"]))
        elif "step" in obj:
            p.step, p.steps, p.part, p.parts = obj["step"], obj["steps"], obj["part"], obj["parts"]
            p.loss, p.time = obj["loss"], obj["time"]
    return p
