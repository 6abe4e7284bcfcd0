"""Small CNN for small images (e.g. 8×8 digits), batched over seeds with grouped convolutions.

Seeds become groups: a batch [S, B, C, H, W] is laid out as [B, S·C, H, W] and convolved with
groups=S, so each seed's filters see only its own channels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from refute.components.models import Anatomy, declares_sites
from refute.registry import Params
from refute.components.models import MODELS
from refute.components.tasks import TaskData, reads

if TYPE_CHECKING:
    from refute.components.models._cnn_net import CNN


class CNNParams(Params):
    channels: list[int] = Field([16, 32], min_length=1, max_length=6,
                                description="output channels of each 3×3 conv layer; each is followed by 2×2 max-pooling")
    hidden: int = Field(64, ge=0, le=65536, description="units of the fully connected layer before the readout (0: none)")
    activation: Literal["relu", "gelu", "tanh", "linear"] = Field("relu", description="nonlinearity after each layer")
    init_scale: float = Field(1.0, gt=0, le=100, description="multiplies every initial weight")


def anatomy(p: CNNParams, data: TaskData) -> Anatomy:
    """input [S, B, pixels]; conv.<i> [S, B, H, W, channels] (after the nonlinearity, before pooling);
    pre/hidden.<i> of the fully connected layers; logits."""
    C, H, W = data.image_shape or (1, 1, 1)
    sites = {"input": C * H * W} | {f"conv.{i}": c for i, c in enumerate(p.channels)}
    if p.hidden:
        sites |= {"pre.0": p.hidden, "hidden.0": p.hidden}
    return Anatomy({**sites, "logits": data.out_dim}, {"unembed": "readout weights, one row per output class"})


@MODELS.register("cnn", CNNParams)
@reads("image")
@declares_sites(anatomy)
def build(p: CNNParams, data: TaskData, seeds: list[int]) -> CNN:
    """small CNN: 3×3 conv + 2×2 max-pool layers, then fully connected, for image tasks"""
    from refute.components.models._cnn_net import CNN

    return CNN(p, data, seeds)
