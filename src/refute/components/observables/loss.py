"""loss: training and validation loss of every seed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from refute.components.observables import EvalContext, ObservableParams
from refute.components.observables import OBSERVABLES, Observable

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec


@OBSERVABLES.register("loss", ObservableParams)
class Loss(Observable):
    """train_loss and val_loss"""

    def metric_names(self, p: ObservableParams, run: RunSpec, arch: Architecture) -> list[str]:
        return ["train_loss", "val_loss"]

    def compute(self, p: ObservableParams, ctx: EvalContext) -> dict:
        from refute.components import objectives

        d, S = ctx.data, ctx.model.n_seeds
        return {
            "train_loss": objectives.loss(ctx.train_out, objectives.shared(d.y_train, S), d.objective),
            "val_loss": objectives.loss(ctx.val_out, objectives.shared(d.y_val, S), d.objective),
        }
