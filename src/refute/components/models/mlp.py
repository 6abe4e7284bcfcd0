"""MLP: token embeddings (for token tasks) → hidden layers → output, batched over seeds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from refute.components.models import Anatomy, declares_sites
from refute.registry import Params
from refute.components.models import MODELS
from refute.components.tasks import TaskData, reads

if TYPE_CHECKING:
    from refute.components.models._mlp_net import MLP


class MLPParams(Params):
    width: int = Field(128, ge=1, le=65536, description="units per hidden layer")
    depth: int = Field(1, ge=0, le=32, description="number of hidden layers (0: a linear model)")
    activation: Literal["relu", "gelu", "tanh", "linear"] = Field("relu", description="hidden nonlinearity")
    d_embed: int = Field(128, ge=1, le=8192, description="embedding size per token (token inputs only)")
    init_scale: float = Field(1.0, gt=0, le=100, description="multiplies every initial weight")
    bias: bool = Field(True, description="learn a bias in every layer")
    parameterization: Literal["standard", "mup"] = Field(
        "standard",
        description="standard, or muP (maximal update: readout init and per-layer learning rates scaled with "
        "width / base_width, so hyperparameters transfer across widths)",
    )
    base_width: int = Field(128, ge=1, le=65536, description="muP: the width at which muP equals standard")

    @model_validator(mode="after")
    def _mup_needs_hidden(self):
        if self.parameterization == "mup" and self.depth == 0:
            raise ValueError("muP scales hidden width; a depth-0 (linear) model has none")
        return self


def anatomy(p: MLPParams, data: TaskData) -> Anatomy:
    first = ({"embed": data.in_dim * p.d_embed} if data.inputs == "tokens"
             else {"input": data.in_dim * max(1, data.seq_len)})
    hidden = {f"{kind}.{i}": p.width for i in range(p.depth) for kind in ("pre", "hidden")}
    matrices = {"unembed": "output layer weights, one row per output class"}
    if data.inputs == "tokens":
        matrices = {"embed": "token embedding table, one row per token", **matrices}
    return Anatomy({**first, **hidden, "logits": data.out_dim}, matrices)


@MODELS.register("mlp", MLPParams)
@reads("tokens", "dense", "sequence", "image")
@declares_sites(anatomy)
def build(p: MLPParams, data: TaskData, seeds: list[int]) -> MLP:
    """multilayer perceptron over token embeddings, dense inputs or flattened sequences"""
    from refute.components.models._mlp_net import MLP

    return MLP(p, data, seeds)


def cost(p: MLPParams, shape):
    """Parameters, forward FLOPs and activations per example, without building the model."""
    from refute.scaling.costs import ModelCost

    d_in = shape.in_dim * p.d_embed if shape.vocab_size else shape.in_dim
    dims = [d_in] + [p.width] * p.depth + [shape.out_dim]
    layers = list(zip(dims[:-1], dims[1:]))
    params = (shape.vocab_size * p.d_embed if shape.vocab_size else 0) + sum(a * b + b for a, b in layers)
    flops = sum(2 * a * b + b for a, b in layers)
    # The input, each hidden layer before and after its activation, and the logits.
    activations = d_in + 2 * p.width * p.depth + shape.out_dim
    return ModelCost(params, flops, activations)
