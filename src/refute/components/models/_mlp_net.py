"""The torch module of the mlp model (refute.components.models.mlp holds its parameters and anatomy:
validating a hypothesis imports that module, never this one, so it does not import torch)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from refute.components.models import _mup
from refute.components.models import Sited, activation, per_seed, per_seed_inputs, uniform
from refute.components.models.mlp import MLPParams
from refute.components.tasks import TaskData


class MLP(Sited, nn.Module):
    def __init__(self, p: MLPParams, data: TaskData, seeds: list[int]):
        super().__init__()
        self.n_seeds, self.act = len(seeds), activation(p.activation)
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

    def token_matrix(self, name: str) -> torch.Tensor:
        """[S, tokens or classes, features]: the embedding table, or the output layer per class."""
        if name == "embed":
            return self.embed
        if name == "unembed":
            return getattr(self, f"w{self.n_layers - 1}").transpose(1, 2)
        raise KeyError(f"mlp has no token matrix {name!r}")
