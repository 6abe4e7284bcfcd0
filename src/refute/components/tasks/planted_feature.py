"""Planted feature: Gaussian inputs whose class is decided by a few chosen coordinates only.

The ground truth of "which inputs matter" is known by construction, so probes that localize
responsibility or decode features can be checked against it.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from refute.registry import Params
from refute.components.tasks import TASKS
from refute.components.tasks import Task, TaskData, TaskInfo


class PlantedFeature(Params):
    n_features: int = Field(32, ge=1, le=4096, description="input dimension; inputs are standard Gaussian")
    planted: list[int] = Field(
        default_factory=lambda: [0], min_length=1,
        description="the coordinates that decide the class: label = 1 if their sum is > 0, else 0",
    )
    n_train: int = Field(2000, ge=2, le=1_000_000, description="training examples")
    n_val: int = Field(1000, ge=2, le=1_000_000, description="validation examples")
    label_noise: float = Field(0.0, ge=0, lt=0.5, description="fraction of labels flipped at random")
    split_seed: int = Field(0, ge=0, description="seed of the data (the same for every run)")

    @model_validator(mode="after")
    def _planted_in_range(self):
        bad = [k for k in self.planted if not 0 <= k < self.n_features]
        if bad:
            raise ValueError(f"planted coordinates {bad} are outside 0..{self.n_features - 1}")
        if len(set(self.planted)) != len(self.planted):
            raise ValueError("planted coordinates must be distinct")
        return self


@TASKS.register("planted_feature", PlantedFeature)
class PlantedFeatureTask(Task):
    """binary class decided by the sign of a few planted input coordinates"""

    provides = frozenset({"dense"})

    def info(self, p: PlantedFeature) -> TaskInfo:
        return TaskInfo(p.n_train, p.n_val, "dense", p.n_features, 2, "classification")

    def build(self, params: PlantedFeature) -> TaskData:
        import torch

        g = torch.Generator().manual_seed(params.split_seed)
        n = params.n_train + params.n_val
        x = torch.randn(n, params.n_features, generator=g)
        y = (x[:, params.planted].sum(1) > 0).long()
        flip = torch.rand(n, generator=g) < params.label_noise
        y = torch.where(flip, 1 - y, y)
        tr, va = slice(0, params.n_train), slice(params.n_train, n)
        return TaskData(x[tr], y[tr], x[va], y[va], inputs="dense", in_dim=params.n_features, out_dim=2,
                        objective="classification")
