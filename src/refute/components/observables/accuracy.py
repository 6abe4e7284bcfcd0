"""accuracy: training and validation accuracy of every seed (classification tasks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from refute.components.observables import EvalContext, ObservableParams
from refute.components.observables import OBSERVABLES, Observable

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec


@OBSERVABLES.register("accuracy", ObservableParams)
class Accuracy(Observable):
    """train_acc and val_acc"""

    def metric_names(self, p: ObservableParams, run: RunSpec, arch: Architecture) -> list[str]:
        return ["train_acc", "val_acc"]

    def compute(self, p: ObservableParams, ctx: EvalContext) -> dict:
        from refute.components import objectives

        return {
            "train_acc": objectives.accuracy(ctx.train_out, ctx.data.y_train),
            "val_acc": objectives.accuracy(ctx.val_out, ctx.data.y_val),
        }
