"""The torch module of the mlp model (refute.components.models.mlp holds its parameters and architecture:
validating a hypothesis imports that module, never this one, so it does not import torch)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from refute.components.models import Architecture, Sited, activation, per_seed, per_seed_inputs, uniform
from refute.components.models.mlp import MLPParams


class MLP(Sited, nn.Module):
    def __init__(self, p: MLPParams, arch: Architecture, seeds: list[int]):
        super().__init__()
        self.n_seeds, self.act, self.activation_name = len(seeds), activation(p.activation), p.activation
        self.vocab = arch.parameters["embed"][0] if "embed" in arch.parameters else 0
        self.n_layers, self.bias = sum(name.startswith("w") for name in arch.parameters), p.bias
        last = self.n_layers - 1

        def init(g: torch.Generator) -> dict[str, torch.Tensor]:
            # The same distributions as torch's nn.Embedding and nn.Linear defaults, times init_scale;
            # muP shrinks the readout by √(width multiplier): its std goes as 1/fan_in, not 1/√fan_in.
            out = {}
            for name, shape in arch.parameters.items():
                if name == "embed":
                    out[name] = torch.randn(shape, generator=g) * p.init_scale
                    continue
                i = int(name[1:])
                scale = p.init_scale / (arch.width_mult**0.5 if i == last else 1.0)
                out[name] = uniform(g, shape, arch.parameters[f"w{i}"][0] ** -0.5) * scale
            return out

        for name, param in per_seed(seeds, init).items():
            self.register_parameter(name, param)
        if self.vocab:
            self.register_buffer("offsets", (torch.arange(self.n_seeds) * self.vocab).view(-1, 1, 1), persistent=False)

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

    def manual_forward(self, x: torch.Tensor, batched: bool = False):
        """(output, backward(grad of the output)) without autograd's bookkeeping, the gradients autograd's bit for
        bit (refute.components.models._mlp_backward); None while a probe has hooked a site (hooks see autograd's)."""
        hooks = self.__dict__.get("_site_hooks")
        if hooks and any(hooks.values()):
            return None
        from refute.components.models import _mlp_backward

        return _mlp_backward.forward(self, x, batched)

    def token_matrix(self, name: str) -> torch.Tensor:
        """[S, tokens or classes, features]: the embedding table, or the output layer per class."""
        if name == "embed":
            return self.embed
        if name == "unembed":
            return getattr(self, f"w{self.n_layers - 1}").transpose(1, 2)
        raise KeyError(f"mlp has no token matrix {name!r}")
