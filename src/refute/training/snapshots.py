"""Weights kept at chosen steps of training (`train.snapshots`), so probes can follow a mechanism over time.

A snapshot at step s holds the weights after s optimizer updates: the same model the observables
logged at step s see. Stored beside the final weights as run_dir/snapshots.pt, {step: state}.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from refute import io

if TYPE_CHECKING:
    import torch


FILE = "snapshots.pt"


class Snapshots:
    """Collects copies of a model's state at the requested steps during training."""

    def __init__(self, steps):
        self.steps = set(int(s) for s in steps)
        self.states: dict[int, dict[str, torch.Tensor]] = {}

    def take(self, step: int, model: torch.nn.Module) -> None:
        if step in self.steps:
            # Kept on the CPU: snapshots of a GPU run must not hold GPU memory, and are saved from there.
            self.states[step] = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}

    # What a checkpoint keeps of it, so a resumed run still has the snapshots taken before the kill.
    def state_dict(self) -> dict:
        return {"states": self.states}

    def load_state_dict(self, state: dict) -> None:
        self.states = dict(state["states"])


def save(path: str | Path, states: dict[int, dict[str, torch.Tensor]], seeds: list[int]) -> None:
    io.write_torch(path, {"seeds": list(seeds), "states": states})


def load(run_dir: str | Path) -> dict[int, dict[str, torch.Tensor]]:
    import torch

    path = Path(run_dir) / FILE
    if not path.exists():
        return {}
    return torch.load(path, weights_only=True)["states"]
