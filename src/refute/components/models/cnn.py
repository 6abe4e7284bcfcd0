"""Small CNN for small images (e.g. 8×8 digits), batched over seeds.

A batch [S, B, C, H, W] is laid out as [B, S·C, H, W]; each 3×3 convolution is a batched matrix
product of each seed's 3×3 patches (im2col) with that seed's filters, so each seed's filters see only
its own channels. (A grouped convolution, groups=S, picks its algorithm by the number of groups: a
seed's numbers would then depend on how many seeds share its batch.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from refute.components.models import MODELS, Architecture, Model
from refute.components.tasks import TaskData, TaskInfo
from refute.registry import Params

if TYPE_CHECKING:
    from refute.components.models._cnn_net import CNN


class CNNParams(Params):
    channels: list[int] = Field([16, 32], min_length=1, max_length=6,
                                description="output channels of each 3×3 conv layer; each is followed by 2×2 max-pooling")
    hidden: int = Field(64, ge=0, le=65536, description="units of the fully connected layer before the readout (0: none)")
    activation: Literal["relu", "gelu", "tanh", "linear"] = Field("relu", description="nonlinearity after each layer")
    init_scale: float = Field(1.0, gt=0, le=100, description="multiplies every initial weight")


@MODELS.register("cnn", CNNParams)
class CNNModel(Model):
    """small CNN: 3×3 conv + 2×2 max-pool layers, then fully connected, for image tasks"""

    reads = frozenset({"image"})
    init_only = frozenset({"init_scale"})

    def architecture(self, p: CNNParams, task: TaskInfo) -> Architecture:
        """Sites: input [S, B, pixels]; conv.<i> [S, B, H, W, channels] (after the nonlinearity, before
        pooling); pre/hidden.<i> of the fully connected layers; logits."""
        if task.image_shape is None:
            raise ValueError("cnn needs an image task (one with image_shape, e.g. digits)")
        C, H, W = task.image_shape
        params: dict[str, tuple[int, ...]] = {}
        flops, acts = 0.0, float(C * H * W)
        for i, (cin, cout) in enumerate(zip([C, *p.channels[:-1]], p.channels)):
            params[f"conv{i}"], params[f"conv{i}_b"] = (cout, cin, 3, 3), (cout,)
            flops += (2 * cin * 9 + 1) * cout * H * W  # padded: the output keeps the input's size
            acts += 2 * cout * H * W  # before and after the nonlinearity; pooling halves each side
            H, W = H // 2, W // 2
            acts += cout * H * W
        if H < 1 or W < 1:
            raise ValueError(f"{len(p.channels)} conv layers pool a {task.image_shape[1:]} image to nothing")
        dims = [p.channels[-1] * H * W] + [p.hidden] * bool(p.hidden) + [task.out_dim]
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            params[f"fc{i}"], params[f"fc{i}_b"] = (a, b), (1, b)
            flops += 2 * a * b + b
        acts += 2 * p.hidden + task.out_dim
        sites = {"input": C * task.image_shape[1] * task.image_shape[2]}
        sites |= {f"conv.{i}": c for i, c in enumerate(p.channels)}
        if p.hidden:
            sites |= {"pre.0": p.hidden, "hidden.0": p.hidden}
        return Architecture(params, {**sites, "logits": task.out_dim},
                            {"unembed": "readout weights, one row per output class"}, flops, acts)

    def build(self, p: CNNParams, arch: Architecture, data: TaskData, seeds: list[int]) -> CNN:
        from refute.components.models._cnn_net import CNN

        return CNN(p, arch, data, seeds)
