"""Small decoder-only transformer, batched over seeds: causal attention blocks (optionally without MLPs),
pre-norm residual stream, read out at the last position.

Token inputs are embedded; a sequence of dense vectors is projected into the residual stream.
Attention is written out with einsum rather than a fused kernel so Hessian-vector products
(sharpness) can differentiate through it twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from refute.components.models import Anatomy, declares_sites
from refute.registry import Params
from refute.components.models import MODELS
from refute.components.tasks import TaskData, reads

if TYPE_CHECKING:
    from refute.components.models._transformer_net import Transformer


class TransformerParams(Params):
    d_model: int = Field(64, ge=1, le=4096, description="width of the residual stream")
    n_layers: int = Field(1, ge=1, le=4, description="transformer blocks")
    n_heads: int = Field(4, ge=1, le=64, description="attention heads per block; d_model must be divisible by it")
    d_mlp: int = Field(256, ge=1, le=16384, description="hidden units of each block's MLP")
    attention_only: bool = Field(False, description="blocks without MLPs (attention-only transformer)")
    layer_norm: bool = Field(True, description="pre-norm LayerNorm before each sublayer and the readout")
    init_scale: float = Field(1.0, gt=0, le=100, description="multiplies every initial weight")

    @model_validator(mode="after")
    def _heads_divide(self):
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model = {self.d_model} is not divisible by n_heads = {self.n_heads}")
        return self


def anatomy(p: TransformerParams, data: TaskData) -> Anatomy:
    """Sites are [S, B, T, units] (positions fold into examples), logits [S, B, out]."""
    T = data.in_dim if data.inputs == "tokens" else data.seq_len
    sites = {"embed": p.d_model} if data.inputs == "tokens" else {"input": data.in_dim}
    for i in range(p.n_layers):
        sites |= {f"attn.{i}.pattern": T, f"attn.{i}.heads": p.d_model}
        if not p.attention_only:
            sites |= {f"pre.{i}": p.d_mlp, f"hidden.{i}": p.d_mlp}
        sites[f"resid.{i}"] = p.d_model
    matrices = {"unembed": "readout weights, one row per output class"}
    if data.inputs == "tokens":
        matrices = {"embed": "token embedding table, one row per token", **matrices}
    return Anatomy({**sites, "logits": data.out_dim}, matrices)


@MODELS.register("transformer", TransformerParams)
@reads("tokens", "sequence")
@declares_sites(anatomy)
def build(p: TransformerParams, data: TaskData, seeds: list[int]) -> Transformer:
    """small decoder-only transformer (1–4 blocks, optional attention-only), read out at the last position"""
    from refute.components.models._transformer_net import Transformer

    return Transformer(p, data, seeds)
