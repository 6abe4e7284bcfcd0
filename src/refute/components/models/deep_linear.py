"""Deep linear network: a product of weight matrices, no biases, small initialization (Saxe et al. 2014).

The end-to-end map is linear, so its singular values can be followed over training; one layer is
the shallow (linear regression) control.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from refute.components.models import MODELS, Architecture, Model
from refute.components.models.mlp import MLPModel, MLPParams
from refute.components.tasks import TaskData, TaskInfo
from refute.registry import Params

if TYPE_CHECKING:
    from refute.components.models._mlp_net import MLP


class DeepLinearParams(Params):
    layers: int = Field(2, ge=1, le=32, description="weight matrices in the product (1: shallow linear regression)")
    width: int = Field(16, ge=1, le=65536, description="size of every hidden layer")
    init_scale: float = Field(
        0.05, gt=0, le=100, description="each weight ~ U(±init_scale/√fan_in); small makes learning stagewise"
    )


def as_mlp(p: DeepLinearParams) -> MLPParams:
    return MLPParams(width=p.width, depth=p.layers - 1, activation="linear", init_scale=p.init_scale, bias=False)


@MODELS.register("deep_linear", DeepLinearParams)
class DeepLinearModel(Model):
    """product of `layers` weight matrices (identity activation, no bias, small init)"""

    reads = frozenset({"dense", "image"})
    init_only = frozenset({"init_scale"})

    def architecture(self, p: DeepLinearParams, task: TaskInfo) -> Architecture:
        """The deep linear network is an MLP; its parameters and sites are the MLP's (input, pre/hidden.<i>, logits)."""
        if task.inputs != "dense":
            raise ValueError("deep_linear reads dense inputs only")
        return MLPModel().architecture(as_mlp(p), task)

    def build(self, p: DeepLinearParams, arch: Architecture, data: TaskData, seeds: list[int]) -> MLP:
        return MLPModel().build(as_mlp(p), arch, data, seeds)
