"""Which runs can be trained as one batched model (a pack), from their specs alone.

Runs share a batched model's forward and backward passes, so they must agree on everything that shapes
them: the model (but for its parameters that only set the initial weights, `Model.init_only`), the task's
shapes (its TaskInfo: set sizes, input kind and width, classes), the batch size and the number of steps. All
else stays each run's own (refute.training.lanes): seeds, the task's values (a data or label-noise seed),
optimizer and its settings, learning rate, weight decay, schedule, clipping, observables, snapshots.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from refute.spec.schema import RunSpec


def pack_key(run: RunSpec) -> str:
    """Equal for runs that can be packed together (and only for those)."""
    from refute.components.models import MODELS
    from refute.components.tasks import task_info

    init_only = MODELS.get(run.model.name).impl.init_only
    model = {k: v for k, v in run.model.params.model_dump(mode="json").items() if k not in init_only}
    return json.dumps({
        "model": [run.model.name, model],
        "task": asdict(task_info(run.task)),
        "batch_size": run.train.batch_size,
        "steps": run.train.steps,
    }, sort_keys=True, default=str)
