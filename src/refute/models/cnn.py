"""Small CNN for small images (e.g. 8×8 digits), batched over seeds with grouped convolutions.

Seeds become groups: a batch [S, B, C, H, W] is laid out as [B, S·C, H, W] and convolved with
groups=S, so each seed's filters see only its own channels.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from refute.models._base import ACTIVATIONS, Anatomy, Sited, declares_sites, per_seed, per_seed_inputs, uniform
from refute.registry import MODELS, Params
from refute.tasks._base import TaskData, reads


class CNNParams(Params):
    channels: list[int] = Field([16, 32], min_length=1, max_length=6,
                                description="output channels of each 3×3 conv layer; each is followed by 2×2 max-pooling")
    hidden: int = Field(64, ge=0, le=65536, description="units of the fully connected layer before the readout (0: none)")
    activation: Literal["relu", "gelu", "tanh", "linear"] = Field("relu", description="nonlinearity after each layer")
    init_scale: float = Field(1.0, gt=0, le=100, description="multiplies every initial weight")


class CNN(Sited, nn.Module):
    def __init__(self, p: CNNParams, data: TaskData, seeds: list[int]):
        super().__init__()
        if data.image_shape is None:
            raise ValueError("cnn needs an image task (one with image_shape, e.g. digits)")
        self.n_seeds, self.act, self.image_shape = len(seeds), ACTIVATIONS[p.activation], data.image_shape
        C, H, W = data.image_shape
        convs = list(zip([C, *p.channels[:-1]], p.channels))
        for _ in convs:
            H, W = H // 2, W // 2
        if H < 1 or W < 1:
            raise ValueError(f"{len(convs)} conv layers pool a {data.image_shape[1:]} image to nothing")
        dims = [p.channels[-1] * H * W] + [p.hidden] * bool(p.hidden) + [data.out_dim]
        self.n_conv, self.n_fc = len(convs), len(dims) - 1

        def init(g: torch.Generator) -> dict[str, torch.Tensor]:
            # torch's Conv2d / Linear default bounds, 1/√fan_in, times init_scale.
            out = {}
            for i, (cin, cout) in enumerate(convs):
                out[f"conv{i}"] = uniform(g, (cout, cin, 3, 3), (cin * 9) ** -0.5) * p.init_scale
                out[f"conv{i}_b"] = uniform(g, (cout,), (cin * 9) ** -0.5) * p.init_scale
            for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
                out[f"fc{i}"] = uniform(g, (a, b), a**-0.5) * p.init_scale
                out[f"fc{i}_b"] = uniform(g, (1, b), a**-0.5) * p.init_scale
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
            h = F.conv2d(h, w.flatten(0, 1), getattr(self, f"conv{i}_b").flatten(), padding=1, groups=S)
            h = F.max_pool2d(self._conv_site(f"conv.{i}", self.act(h)), 2)
        h = h.reshape(B, S, -1).transpose(0, 1)  # [S, B, features], each seed's own channels
        for i in range(self.n_fc):
            h = torch.baddbmm(getattr(self, f"fc{i}_b"), h, getattr(self, f"fc{i}"))
            if i < self.n_fc - 1:
                h = self.site(f"hidden.{i}", self.act(self.site(f"pre.{i}", h)))
        return self.site("logits", h)

    def _conv_site(self, name: str, h: torch.Tensor) -> torch.Tensor:
        """A conv layer's output as a site [S, B, H, W, channels]; laid out so only when hooked."""
        if not self.__dict__.get("_site_hooks", {}).get(name):
            return h
        B, _, H, W = h.shape
        seeded = h.view(B, self.n_seeds, -1, H, W).permute(1, 0, 3, 4, 2)
        return self.site(name, seeded).permute(1, 0, 4, 2, 3).reshape(B, -1, H, W)

    @classmethod
    def anatomy(cls, p: CNNParams, data: TaskData) -> Anatomy:
        """input [S, B, pixels]; conv.<i> [S, B, H, W, channels] (after the nonlinearity, before pooling);
        pre/hidden.<i> of the fully connected layers; logits."""
        C, H, W = data.image_shape or (1, 1, 1)
        sites = {"input": C * H * W} | {f"conv.{i}": c for i, c in enumerate(p.channels)}
        if p.hidden:
            sites |= {"pre.0": p.hidden, "hidden.0": p.hidden}
        return Anatomy({**sites, "logits": data.out_dim}, {"unembed": "readout weights, one row per output class"})

    def token_matrix(self, name: str) -> torch.Tensor:
        if name == "unembed":
            return getattr(self, f"fc{self.n_fc - 1}").transpose(1, 2)
        raise KeyError(f"cnn has no token matrix {name!r}")


@MODELS.register("cnn", CNNParams)
@reads("image")
@declares_sites(CNN)
def build(p: CNNParams, data: TaskData, seeds: list[int]) -> CNN:
    """small CNN: 3×3 conv + 2×2 max-pool layers, then fully connected, for image tasks"""
    return CNN(p, data, seeds)
