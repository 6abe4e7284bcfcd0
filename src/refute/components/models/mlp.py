"""MLP: token embeddings (for token tasks) → hidden layers → output, batched over seeds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from refute.components.models import MODELS, Architecture, Model
from refute.components.models._mup import Role
from refute.components.tasks import TaskData, TaskInfo
from refute.registry import Params

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


@MODELS.register("mlp", MLPParams)
class MLPModel(Model):
    """multilayer perceptron over token embeddings, dense inputs or flattened sequences"""

    reads = frozenset({"tokens", "dense", "sequence", "image"})
    init_only = frozenset({"init_scale"})

    def architecture(self, p: MLPParams, task: TaskInfo) -> Architecture:
        vocab = task.vocab_size if task.inputs == "tokens" else 0
        # Tokens are embedded and concatenated; a sequence of vectors is read as one long vector.
        d_in = task.in_dim * (p.d_embed if vocab else max(1, task.seq_len))
        dims = [d_in] + [p.width] * p.depth + [task.out_dim]
        layers = list(zip(dims[:-1], dims[1:]))
        last = len(layers) - 1
        params: dict[str, tuple[int, ...]] = {"embed": (vocab, p.d_embed)} if vocab else {}
        roles: dict[str, Role] = {"embed": "fixed"} if vocab else {}
        for i, (a, b) in enumerate(layers):
            params[f"w{i}"] = (a, b)
            roles[f"w{i}"] = "output" if i == last else "input" if i == 0 else "hidden"
            if p.bias:
                params[f"b{i}"] = (1, b)
                roles[f"b{i}"] = "fixed" if i == last else "input"
        first = {"embed": d_in} if vocab else {"input": d_in}
        hidden = {f"{kind}.{i}": p.width for i in range(p.depth) for kind in ("pre", "hidden")}
        matrices = {"unembed": "output layer weights, one row per output class"}
        if vocab:
            matrices = {"embed": "token embedding table, one row per token", **matrices}
        return Architecture(
            parameters=params,
            sites={**first, **hidden, "logits": task.out_dim},
            matrices=matrices,
            flops_per_example=sum(2 * a * b + b * p.bias for a, b in layers),
            # The input, each hidden layer before and after its activation, and the logits.
            activations_per_example=d_in + 2 * p.width * p.depth + task.out_dim,
            lr_roles=roles,
            width_mult=p.width / p.base_width if p.parameterization == "mup" else 1.0,
        )

    def build(self, p: MLPParams, arch: Architecture, data: TaskData, seeds: list[int]) -> MLP:
        from refute.components.models._mlp_net import MLP

        return MLP(p, arch, seeds)
