"""accuracy: training and validation accuracy of every seed (classification tasks)."""

from refute.components.observables import EvalContext, ObservableParams
from refute.components.observables import OBSERVABLES


@OBSERVABLES.register("accuracy", ObservableParams)
class Accuracy:
    """train_acc and val_acc"""

    @staticmethod
    def metric_names(p: ObservableParams, run=None) -> list[str]:
        return ["train_acc", "val_acc"]

    @staticmethod
    def compute(p: ObservableParams, ctx: EvalContext) -> dict:
        from refute.components import objectives

        return {
            "train_acc": objectives.accuracy(ctx.train_out, ctx.data.y_train),
            "val_acc": objectives.accuracy(ctx.val_out, ctx.data.y_val),
        }
