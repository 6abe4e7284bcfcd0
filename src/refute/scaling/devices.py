"""Which device a training job runs on: the hypothesis's request against what this host has."""

from __future__ import annotations

import platform
from typing import Literal

Request = Literal["auto", "cpu", "cuda"]


class DeviceUnavailable(RuntimeError):
    """The hypothesis asked for a GPU and the job has none."""


def resolve(requested: Request, cuda_available: bool | None = None) -> str:
    """'cpu' or 'cuda' for a request of auto | cpu | cuda.

    auto takes a GPU when the job can see one (on SLURM: when it was granted one), else the CPU;
    cuda fails loudly rather than silently training on the CPU.
    """
    if requested not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {requested!r}")
    if requested == "cpu":
        return "cpu"
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    if cuda_available:
        return "cuda"
    if requested == "cuda":
        raise DeviceUnavailable(
            f"the hypothesis asks for device 'cuda' but torch sees no GPU on host {platform.node()!r} "
            "(CUDA_VISIBLE_DEVICES unset or empty, a CPU-only torch, or the scheduler granted no GPU); "
            "use device: auto to fall back to the CPU"
        )
    return "cpu"


def describe(device: str) -> str:
    """A human name for run.json: 'cpu' or 'cuda:0 (NVIDIA H100 80GB HBM3)'."""
    if device == "cpu":
        return "cpu"
    import torch

    index = torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
