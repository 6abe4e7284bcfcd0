"""Checkpoints of a long training job, so a killed job resumes where it stopped.

The trainer hands over, at the top of a step, everything the rest of the run depends on (weights,
optimizer moments, each seed's minibatch generator, the metrics logged so far); resuming from it gives
the numbers an uninterrupted run gives, bit for bit. The file lives in the run folder, is replaced
atomically, is tied to its run's hash (a checkpoint of other training is never resumed), and is
removed once the run's outputs are complete.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from refute import io

FILE = "checkpoint.pt"
FORMAT = 3  # bump when what capture() saves changes, so an older checkpoint is ignored, not misread


class Checkpoint:
    def __init__(self, path: str | Path, key: str, every_seconds: float = 300.0, log: Callable[[str], None] = print):
        self.path, self.key, self.every, self.log = Path(path), f"{key}/format{FORMAT}", every_seconds, log
        self.keep_finished = False  # a chunk of several saves its final state too
        self._last = time.monotonic()

    def part(self, i: int, n: int) -> "Checkpoint":
        """The checkpoint of chunk i of n (the run's own when n is 1)."""
        if n == 1:
            return self
        part = type(self)(self.path.with_name(f"{self.path.stem}-{i}{self.path.suffix}"), f"{self.key}/{i}of{n}",
                          self.every, self.log)  # its key: this run's, then the chunk
        part.keep_finished = True
        return part

    def load(self) -> dict | None:
        """The saved state, or None (no checkpoint, another run's, or unreadable: then train from scratch)."""
        import torch

        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, weights_only=True)
        except Exception as exc:  # a checkpoint is only an optimisation: never fail a run over it
            self.log(f"ignoring unreadable checkpoint {self.path}: {exc}")
            return None
        if not isinstance(state, dict) or state.get("key") != self.key:
            self.log(f"ignoring checkpoint {self.path}: it belongs to other training")
            return None
        self.log(f"resuming from the checkpoint at step {state['step']}" + (f" ({self.path.name})" if self.keep_finished else ""))
        return state

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.every

    def save(self, state: dict) -> None:
        io.write_torch(self.path, {"key": self.key, **state})
        self._last = time.monotonic()

    def remove(self) -> None:
        """Remove this checkpoint and those of its chunks."""
        for path in self.path.parent.glob(f"{self.path.stem}*{self.path.suffix}"):
            path.unlink()


def capture(step: int, stateful: dict, alive, elapsed: float) -> dict:
    """The trainer's state at the top of `step` (before that step's evaluation and update).

    `stateful`: named objects with state_dict()/load_state_dict() (model, minibatch generators, and each
    run's optimizer, snapshots and metrics logged so far: refute.training.lanes.Stateful).
    """
    import torch

    return {
        "step": step,
        "state": {name: obj.state_dict() for name, obj in stateful.items()},
        "torch_rng": torch.get_rng_state(),  # for observables that draw from the global generator
        "alive": alive.clone(),
        "elapsed": elapsed,
    }


def restore(state: dict, stateful: dict, alive) -> tuple[int, float]:
    """Put a captured state back in place; returns the step to continue from and the time already spent."""
    import torch

    for name, obj in stateful.items():
        obj.load_state_dict(state["state"][name])
    torch.set_rng_state(state["torch_rng"])
    alive.copy_(state["alive"])
    return int(state["step"]), float(state["elapsed"])
