"""loss: training and validation loss of every seed."""

from refute.components.observables import EvalContext, ObservableParams
from refute.components.observables import OBSERVABLES


@OBSERVABLES.register("loss", ObservableParams)
class Loss:
    """train_loss and val_loss"""

    @staticmethod
    def metric_names(p: ObservableParams, run=None) -> list[str]:
        return ["train_loss", "val_loss"]

    @staticmethod
    def compute(p: ObservableParams, ctx: EvalContext) -> dict:
        from refute.components import objectives

        d, S = ctx.data, ctx.model.n_seeds
        return {
            "train_loss": objectives.loss(ctx.train_out, objectives.shared(d.y_train, S), d.objective),
            "val_loss": objectives.loss(ctx.val_out, objectives.shared(d.y_val, S), d.objective),
        }
