"""A run's parameter names and shapes, for observables whose metrics are named per layer.

Found by building the task and a one-seed model once per distinct (task, model), so the names
always match what training will log.
"""

from __future__ import annotations

import json

_CACHE: dict[str, dict[str, tuple[int, ...]]] = {}


def parameter_shapes(run) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape of one seed's tensor, in the model's order."""
    from refute.components.models import MODELS
    from refute.components.tasks import TASKS

    key = json.dumps([run.task.model_dump(mode="json"), run.model.model_dump(mode="json")], sort_keys=True)
    if key not in _CACHE:
        data = TASKS.get(run.task.name).impl(run.task.params)
        net = MODELS.get(run.model.name).impl(run.model.params, data, [0])
        _CACHE[key] = {name: tuple(p.shape[1:]) for name, p in net.named_parameters()}
    return _CACHE[key]


def is_matrix(shape: tuple[int, ...]) -> bool:
    """A weight matrix (trailing dims folded into columns), not a bias or a single row."""
    cols = 1
    for d in shape[1:]:
        cols *= d
    return len(shape) >= 2 and shape[0] > 1 and cols > 1
