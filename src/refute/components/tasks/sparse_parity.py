"""Sparse parity: the label is the parity of k hidden bits out of n (Barak et al. 2022)."""

from __future__ import annotations

from pydantic import Field, model_validator

from refute.components.tasks import TASKS
from refute.components.tasks import Task, TaskData, TaskInfo
from refute.components.tasks._sampled import SampledTask


class SparseParity(SampledTask):
    n_bits: int = Field(20, ge=1, le=4096, description="input bits n; inputs are ±1 vectors of length n")
    k: int = Field(3, ge=1, le=64, description="relevant bits k; the label is their parity (chosen at random by data_seed)")
    label_noise: float = Field(
        0.0, ge=0, lt=0.5, description="probability that a training label is flipped (validation labels stay clean)"
    )

    @model_validator(mode="after")
    def _k_fits(self):
        if self.k > self.n_bits:
            raise ValueError(f"k = {self.k} relevant bits cannot exceed n_bits = {self.n_bits}")
        return self


@TASKS.register("sparse_parity", SparseParity)
class SparseParityTask(Task):
    """parity of k hidden bits of n random ±1 bits, optional label noise"""

    provides = frozenset({"dense"})

    def info(self, p: SparseParity) -> TaskInfo:
        return TaskInfo(p.n_train, p.n_val, "dense", p.n_bits, 2, "classification", online=p.online)

    def build(self, p: SparseParity) -> TaskData:
        import torch

        g = torch.Generator().manual_seed(p.data_seed)
        relevant = torch.randperm(p.n_bits, generator=g)[: p.k].sort().values

        def draw(gen: torch.Generator, n: int, noise: float):
            # Drawn as floats directly: the same numbers as integer draws, without the int64 detour.
            x = torch.randint(0, 2, (n, p.n_bits), generator=gen, dtype=torch.float32).mul_(2).sub_(1)
            y = (x[:, relevant].prod(1) < 0).long()  # 1 where an odd number of relevant bits is -1
            if noise > 0:
                y = torch.where(torch.rand(n, generator=gen) < noise, 1 - y, y)
            return x, y

        x_tr, y_tr = draw(g, p.n_train, p.label_noise)
        x_va, y_va = draw(g, p.n_val, 0.0)
        return TaskData(x_tr, y_tr, x_va, y_va, inputs="dense", in_dim=p.n_bits, out_dim=2, objective="classification",
                        sample=lambda gen, n: draw(gen, n, p.label_noise), online=p.online,
                        info={"relevant_bits": relevant})
