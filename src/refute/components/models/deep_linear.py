"""Deep linear network: a product of weight matrices, no biases, small initialization (Saxe et al. 2014).

The end-to-end map is linear, so its singular values can be followed over training; one layer is
the shallow (linear regression) control.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from refute.components.models import mlp
from refute.components.models import declares_sites
from refute.components.models.mlp import MLPParams
from refute.registry import Params
from refute.components.models import MODELS
from refute.components.tasks import TaskData, reads

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


def anatomy(p: DeepLinearParams, data: TaskData):
    """The deep linear network is an MLP; its sites are the MLP's (input, pre/hidden.<i>, logits)."""
    return mlp.anatomy(as_mlp(p), data)


@MODELS.register("deep_linear", DeepLinearParams)
@reads("dense", "image")
@declares_sites(anatomy)
def build(p: DeepLinearParams, data: TaskData, seeds: list[int]) -> MLP:
    """product of `layers` weight matrices (identity activation, no bias, small init)"""
    if data.inputs != "dense":
        raise ValueError("deep_linear reads dense inputs only")
    return mlp.build(as_mlp(p), data, seeds)
