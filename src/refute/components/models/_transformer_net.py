"""The torch module of the transformer model (refute.components.models.transformer holds its parameters and architecture:
validating a hypothesis imports that module, never this one, so it does not import torch)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from refute.components.models import Architecture, Sited, per_seed, per_seed_inputs, uniform
from refute.components.models.transformer import TransformerParams


class Transformer(Sited, nn.Module):
    def __init__(self, p: TransformerParams, arch: Architecture, seeds: list[int]):
        super().__init__()
        self.p, self.n_seeds = p, len(seeds)
        shapes, s = arch.parameters, p.init_scale
        self.vocab = shapes["embed"][0] if "embed" in shapes else 0
        T = shapes["pos"][0]

        def draw(g: torch.Generator, name: str, shape: tuple[int, ...]) -> torch.Tensor:
            if name == "embed":
                return torch.randn(shape, generator=g) * s
            if name == "pos":
                return torch.randn(shape, generator=g) * 0.02 * s
            if name.startswith("b_") or "_b_" in name:  # biases start at zero
                return torch.zeros(shape)
            fan_in = shape[0] * shape[1] if name.endswith("_w_o") else shape[0]  # w_o reads all heads: H·d_head
            return uniform(g, shape, fan_in**-0.5) * s

        def init(g: torch.Generator) -> dict[str, torch.Tensor]:
            return {name: draw(g, name, shape) for name, shape in shapes.items()}

        for name, param in per_seed(seeds, init).items():
            self.register_parameter(name, param)
        self.register_buffer("causal", torch.ones(T, T, dtype=torch.bool).tril(), persistent=False)
        if self.vocab:
            self.register_buffer("offsets", (torch.arange(self.n_seeds) * self.vocab).view(-1, 1, 1), persistent=False)
        self.scale = 1.0 / math.sqrt(shapes["l0_w_q"][2])

    def w(self, name: str) -> torch.Tensor:
        return getattr(self, name.replace(".", "_"))

    def _norm(self, h: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(h, h.shape[-1:]) if self.p.layer_norm else h

    def attention(self, h: torch.Tensor, i: int) -> torch.Tensor:
        """Causal multi-head attention of block i; h: [S, B, T, D]."""
        q = torch.einsum("sbtd,sdhe->sbhte", h, self.w(f"l{i}.w_q"))
        k = torch.einsum("sbtd,sdhe->sbhte", h, self.w(f"l{i}.w_k"))
        v = torch.einsum("sbtd,sdhe->sbhte", h, self.w(f"l{i}.w_v"))
        scores = torch.einsum("sbhte,sbhue->sbhtu", q, k) * self.scale
        pattern = self.site(f"attn.{i}.pattern", scores.masked_fill(~self.causal, float("-inf")).softmax(-1))
        z = torch.einsum("sbhtu,sbhue->sbthe", pattern, v)
        # Heads side by side as units, so ablating groups of d_head units ablates whole heads.
        z = self.site(f"attn.{i}.heads", z.flatten(3)).unflatten(3, z.shape[3:])
        return torch.einsum("sbthe,shed->sbtd", z, self.w(f"l{i}.w_o"))

    def mlp(self, h: torch.Tensor, i: int) -> torch.Tensor:
        S, B, T, D = h.shape
        flat = h.reshape(S, B * T, D)
        pre = self.site(f"pre.{i}", torch.baddbmm(self.w(f"l{i}.b_up"), flat, self.w(f"l{i}.w_up")).view(S, B, T, -1))
        up = self.site(f"hidden.{i}", F.gelu(pre)).reshape(S, B * T, -1)
        return torch.baddbmm(self.w(f"l{i}.b_down"), up, self.w(f"l{i}.w_down")).view(S, B, T, D)

    def forward(self, x: torch.Tensor, batched: bool = False) -> torch.Tensor:
        """x: [B, T] tokens or [B, T, in_dim] vectors (or with a leading seed dim and batched=True).
        Returns [S, B, out] read out at the last position."""
        x = per_seed_inputs(x, self.n_seeds, batched)
        if self.vocab:
            flat = self.embed.reshape(-1, self.embed.shape[-1])
            h = self.site("embed", F.embedding(x + self.offsets, flat))
        else:
            h = torch.einsum("sbti,sid->sbtd", self.site("input", x), self.w_in)
        h = h + self.pos[:, None]
        for i in range(self.p.n_layers):
            h = h + self.attention(self._norm(h), i)
            if not self.p.attention_only:
                h = h + self.mlp(self._norm(h), i)
            h = self.site(f"resid.{i}", h)
        last = self._norm(h[:, :, -1])
        return self.site("logits", torch.baddbmm(self.b_out, last, self.w_out))

    def token_matrix(self, name: str) -> torch.Tensor:
        """[S, tokens or classes, d_model]: the embedding table, or the readout per class."""
        if name == "embed" and self.vocab:
            return self.embed
        if name == "unembed":
            return self.w_out.transpose(1, 2)
        raise KeyError(f"transformer has no token matrix {name!r}")
