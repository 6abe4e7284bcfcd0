"""The end-to-end map of a linear network, for observables that follow its singular structure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from refute.spec.schema import RunSpec


def check_linear(run: RunSpec, observable: str) -> None:
    """Raise (reported as a spec error) unless the run's model is a linear map of dense inputs."""
    from refute.components.tasks import TASKS

    m = run.model
    linear = m.name == "deep_linear" or (m.name == "mlp" and (m.params.activation == "linear" or m.params.depth == 0))
    if not linear:
        raise ValueError(f"observable {observable!r} needs a linear network (model deep_linear, or mlp with "
                         f"activation linear); this run's model is {m.name!r}")
    if "dense" not in TASKS.get(run.task.name).impl.provides:
        raise ValueError(f"observable {observable!r} needs dense inputs; task {run.task.name!r} gives none")


def end_to_end(model, in_dim: int):
    """Each seed's linear map as a matrix [S, d_in, d_out]: outputs at the unit vectors minus the
    output at zero (which removes any bias)."""
    import torch

    with torch.no_grad():
        basis = torch.cat([torch.eye(in_dim), torch.zeros(1, in_dim)])
        out = model(basis)
    return out[:, :-1] - out[:, -1:]
