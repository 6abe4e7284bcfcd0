"""The torch module of the cnn model (refute.components.models.cnn holds its parameters and architecture:
validating a hypothesis imports that module, never this one, so it does not import torch)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from refute.components.models import Architecture, Sited, activation, per_seed, per_seed_inputs, uniform
from refute.components.models.cnn import CNNParams
from refute.components.tasks import TaskData


class CNN(Sited, nn.Module):
    def __init__(self, p: CNNParams, arch: Architecture, data: TaskData, seeds: list[int]):
        super().__init__()
        self.n_seeds, self.act, self.image_shape = len(seeds), activation(p.activation), data.image_shape
        self.n_conv = sum(name.startswith("conv") and not name.endswith("_b") for name in arch.parameters)
        self.n_fc = sum(name.startswith("fc") and not name.endswith("_b") for name in arch.parameters)

        def init(g: torch.Generator) -> dict[str, torch.Tensor]:
            # torch's Conv2d / Linear default bounds, 1/√fan_in, times init_scale; a bias shares its weight's fan-in.
            out = {}
            for name, shape in arch.parameters.items():
                w = arch.parameters[name.removesuffix("_b")]
                fan_in = math.prod(w[1:]) if name.startswith("conv") else w[0]  # conv: in channels × 3 × 3
                out[name] = uniform(g, shape, fan_in**-0.5) * p.init_scale
            return out

        for name, param in per_seed(seeds, init).items():
            self.register_parameter(name, param)

    def forward(self, x: torch.Tensor, batched: bool = False) -> torch.Tensor:
        """x: [B, C·H·W] flattened images (or [S, B, C·H·W] with batched=True). Returns [S, B, out]."""
        S = self.n_seeds
        x = per_seed_inputs(x, S, batched)
        B = x.shape[1]
        x = self.site("input", x)
        h = x.reshape(S, B, *self.image_shape).transpose(0, 1).reshape(B, -1, *self.image_shape[1:])
        for i in range(self.n_conv):
            w = getattr(self, f"conv{i}")
            h = self._conv(h, w, getattr(self, f"conv{i}_b"))
            h = F.max_pool2d(self._conv_site(f"conv.{i}", self.act(h)), 2)
        h = h.reshape(B, S, -1).transpose(0, 1)  # [S, B, features], each seed's own channels
        for i in range(self.n_fc):
            h = torch.baddbmm(getattr(self, f"fc{i}_b"), h, getattr(self, f"fc{i}"))
            if i < self.n_fc - 1:
                h = self.site(f"hidden.{i}", self.act(self.site(f"pre.{i}", h)))
        return self.site("logits", h)

    def _conv(self, h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """3×3 convolution, padding 1, of h [B, S·C, H, W] by each seed's filters w [S, out, C, 3, 3] and bias b [S, out]."""
        S, B, (H, W) = self.n_seeds, h.shape[0], h.shape[2:]
        cols = F.unfold(h, 3, padding=1).view(B, S, -1, H * W)  # [B, S, C·9, H·W]: each seed's patches
        patches = cols.permute(1, 0, 3, 2).reshape(S, B * H * W, -1)
        out = torch.baddbmm(b.unsqueeze(1), patches, w.flatten(2).transpose(1, 2))  # [S, B·H·W, out]
        return out.view(S, B, H * W, -1).permute(1, 0, 3, 2).reshape(B, -1, H, W)

    def _conv_site(self, name: str, h: torch.Tensor) -> torch.Tensor:
        """A conv layer's output as a site [S, B, H, W, channels]; laid out so only when hooked."""
        if not self.__dict__.get("_site_hooks", {}).get(name):
            return h
        B, _, H, W = h.shape
        seeded = h.view(B, self.n_seeds, -1, H, W).permute(1, 0, 3, 4, 2)
        return self.site(name, seeded).permute(1, 0, 4, 2, 3).reshape(B, -1, H, W)

    def token_matrix(self, name: str) -> torch.Tensor:
        if name == "unembed":
            return getattr(self, f"fc{self.n_fc - 1}").transpose(1, 2)
        raise KeyError(f"cnn has no token matrix {name!r}")
