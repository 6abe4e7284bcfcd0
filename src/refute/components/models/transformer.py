"""Small decoder-only transformer, batched over seeds: causal attention blocks (optionally without MLPs),
pre-norm residual stream, read out at the last position.

Token inputs are embedded; a sequence of dense vectors is projected into the residual stream.
Attention is written out with einsum rather than a fused kernel so Hessian-vector products
(sharpness) can differentiate through it twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from refute.components.models import MODELS, Architecture, Model
from refute.components.tasks import TaskData, TaskInfo
from refute.registry import Params

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


@MODELS.register("transformer", TransformerParams)
class TransformerModel(Model):
    """small decoder-only transformer (1–4 blocks, optional attention-only), read out at the last position"""

    reads = frozenset({"tokens", "sequence"})
    init_only = frozenset({"init_scale"})

    def architecture(self, p: TransformerParams, task: TaskInfo) -> Architecture:
        """Sites are [S, B, T, units] (positions fold into examples), logits [S, B, out]. Parameter names
        are flat (l<i>_w_q): torch module names cannot contain dots."""
        if task.inputs not in ("tokens", "sequence"):
            raise ValueError("transformer reads token or sequence inputs, not dense features")
        tokens = task.inputs == "tokens"
        T = task.in_dim if tokens else task.seq_len
        D, H, F = p.d_model, p.n_heads, p.d_mlp
        params: dict[str, tuple[int, ...]] = {"embed": (task.vocab_size, D)} if tokens else {"w_in": (task.in_dim, D)}
        params["pos"] = (T, D)
        sites = {"embed": D} if tokens else {"input": task.in_dim}
        flops = 0.0 if tokens else 2.0 * T * task.in_dim * D
        acts = float(T * (D if tokens else task.in_dim + D))
        for i in range(p.n_layers):
            for name in ("q", "k", "v"):
                params[f"l{i}_w_{name}"] = (D, H, D // H)
            params[f"l{i}_w_o"] = (H, D // H, D)
            # q, k, v and output projections; scores and the weighted sum over T positions.
            flops += 8 * T * D * D + 4 * T * T * D
            acts += 6 * T * D + 2 * H * T * T
            sites |= {f"attn.{i}.pattern": T, f"attn.{i}.heads": D}
            if not p.attention_only:
                params |= {f"l{i}_w_up": (D, F), f"l{i}_b_up": (1, F), f"l{i}_w_down": (F, D), f"l{i}_b_down": (1, D)}
                flops += 4 * T * D * F + T * (F + D)
                acts += 2 * T * F + 2 * T * D
                sites |= {f"pre.{i}": F, f"hidden.{i}": F}
            sites[f"resid.{i}"] = D
        params |= {"w_out": (D, task.out_dim), "b_out": (1, task.out_dim)}
        flops += 2 * D * task.out_dim + task.out_dim
        acts += D + task.out_dim
        matrices = {"unembed": "readout weights, one row per output class"}
        if tokens:
            matrices = {"embed": "token embedding table, one row per token", **matrices}
        return Architecture(params, {**sites, "logits": task.out_dim}, matrices, flops, acts)

    def build(self, p: TransformerParams, arch: Architecture, data: TaskData, seeds: list[int]) -> Transformer:
        from refute.components.models._transformer_net import Transformer

        return Transformer(p, arch, seeds)
