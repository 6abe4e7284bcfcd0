"""MLP: token embeddings (for token tasks) → hidden layers → output, batched over seeds."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from refute.models import _mup
from refute.models._base import ACTIVATIONS, Anatomy, Sited, declares_sites, per_seed, per_seed_inputs, uniform
from refute.registry import MODELS, Params
from refute.tasks._base import TaskData, reads


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


class MLP(Sited, nn.Module):
    def __init__(self, p: MLPParams, data: TaskData, seeds: list[int]):
        super().__init__()
        self.n_seeds, self.act = len(seeds), ACTIVATIONS[p.activation]
        self.vocab = data.vocab_size if data.inputs == "tokens" else 0
        d_in = data.in_dim * (p.d_embed if self.vocab else max(1, data.seq_len))
        dims = [d_in] + [p.width] * p.depth + [data.out_dim]
        self.n_layers, self.bias = len(dims) - 1, p.bias
        self.width_mult = p.width / p.base_width if p.parameterization == "mup" else 1.0
        last = self.n_layers - 1

        def init(g: torch.Generator) -> dict[str, torch.Tensor]:
            # The same distributions as torch's nn.Embedding and nn.Linear defaults, times init_scale;
            # muP shrinks the readout by √(width multiplier): its std goes as 1/fan_in, not 1/√fan_in.
            out = {}
            if self.vocab:
                out["embed"] = torch.randn(self.vocab, p.d_embed, generator=g) * p.init_scale
            for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
                scale = p.init_scale / (self.width_mult**0.5 if i == last else 1.0)
                out[f"w{i}"] = uniform(g, (a, b), a**-0.5) * scale
                if p.bias:
                    out[f"b{i}"] = uniform(g, (1, b), a**-0.5) * scale
            return out

        for name, param in per_seed(seeds, init).items():
            self.register_parameter(name, param)
        if self.vocab:
            self.register_buffer("offsets", (torch.arange(self.n_seeds) * self.vocab).view(-1, 1, 1), persistent=False)
        self.roles: dict[str, _mup.Role] = {"embed": "fixed"} if self.vocab else {}
        for i in range(self.n_layers):
            self.roles[f"w{i}"] = "output" if i == last else "input" if i == 0 else "hidden"
            self.roles[f"b{i}"] = "fixed" if i == last else "input"

    def lr_multipliers(self, adaptive: bool) -> dict[str, float]:
        """Per-parameter learning-rate multipliers (all 1 in the standard parameterization)."""
        return _mup.lr_multipliers({n: self.roles[n] for n, _ in self.named_parameters()}, self.width_mult, adaptive)

    def forward(self, x: torch.Tensor, batched: bool = False) -> torch.Tensor:
        """x: [B, ...] shared by all seeds, or [S, B, ...] with batched=True. Returns [S, B, out]."""
        x = per_seed_inputs(x, self.n_seeds, batched)
        if self.vocab:
            # One gather on a flattened table: far cheaper backward than indexing embed[:, x].
            flat = self.embed.reshape(-1, self.embed.shape[-1])
            h = self.site("embed", F.embedding(x + self.offsets, flat).flatten(2))
        else:
            h = self.site("input", x.flatten(2))  # a sequence of vectors is read as one long vector
        for i in range(self.n_layers):
            w = getattr(self, f"w{i}")
            h = torch.baddbmm(getattr(self, f"b{i}"), h, w) if self.bias else torch.bmm(h, w)
            if i < self.n_layers - 1:
                h = self.site(f"hidden.{i}", self.act(self.site(f"pre.{i}", h)))
        return self.site("logits", h)

    @classmethod
    def anatomy(cls, p: MLPParams, data: TaskData) -> Anatomy:
        first = ({"embed": data.in_dim * p.d_embed} if data.inputs == "tokens"
                 else {"input": data.in_dim * max(1, data.seq_len)})
        hidden = {f"{kind}.{i}": p.width for i in range(p.depth) for kind in ("pre", "hidden")}
        matrices = {"unembed": "output layer weights, one row per output class"}
        if data.inputs == "tokens":
            matrices = {"embed": "token embedding table, one row per token", **matrices}
        return Anatomy({**first, **hidden, "logits": data.out_dim}, matrices)

    def token_matrix(self, name: str) -> torch.Tensor:
        """[S, tokens or classes, features]: the embedding table, or the output layer per class."""
        if name == "embed":
            return self.embed
        if name == "unembed":
            return getattr(self, f"w{self.n_layers - 1}").transpose(1, 2)
        raise KeyError(f"mlp has no token matrix {name!r}")


@MODELS.register("mlp", MLPParams)
@reads("tokens", "dense", "sequence", "image")
@declares_sites(MLP)
def build(p: MLPParams, data: TaskData, seeds: list[int]) -> MLP:
    """multilayer perceptron over token embeddings, dense inputs or flattened sequences"""
    return MLP(p, data, seeds)


def cost(p: MLPParams, shape):
    """Parameters, forward FLOPs and activations per example, without building the model."""
    from refute.costs import ModelCost

    d_in = shape.in_dim * p.d_embed if shape.vocab_size else shape.in_dim
    dims = [d_in] + [p.width] * p.depth + [shape.out_dim]
    layers = list(zip(dims[:-1], dims[1:]))
    params = (shape.vocab_size * p.d_embed if shape.vocab_size else 0) + sum(a * b + b for a, b in layers)
    flops = sum(2 * a * b + b for a, b in layers)
    # The input, each hidden layer before and after its activation, and the logits.
    activations = d_in + 2 * p.width * p.depth + shape.out_dim
    return ModelCost(params, flops, activations)
