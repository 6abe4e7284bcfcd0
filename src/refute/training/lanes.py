"""Several runs trained as one batched model (a pack): where each run's seeds sit among the model's lanes, and
the parts of training that stay each run's own.

Runs pack when their models have the same shapes (refute.spec.packing.pack_key). The packed model's lanes are
the members' seeds one after another; the forward and backward passes are shared, and everything a run sets
for itself stays its own: its initial weights (built by its own model, so `init_scale` and the like hold), its
data and minibatch generators, its optimizer over views of its lanes (learning rate, weight decay, momentum,
schedule), its gradient clipping, its observables, snapshots and global random stream. A lane's numbers do not
depend on its neighbours (refute.training.loop), so each run gets, bit for bit, what it gets trained alone
(tests/test_packing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from refute.components import optimizers
from refute.components.batches import Batches
from refute.components.models import build_model
from refute.components.tasks import TaskData
from refute.spec.blueprint import blueprint
from refute.training.snapshots import Snapshots

if TYPE_CHECKING:
    from torch import nn

    from refute.spec.schema import RunSpec
    from refute.training.progress import ProgressWriter


def lone_seed_lanes(seeds: list[int]) -> list[int]:
    """The seeds a batched model is built for: `seeds`, or a lone seed twice.

    A batch of one seed takes other kernels than a batch of several (BLAS turns a one-column product into
    a matrix-vector product, grouped convolution becomes a plain one, a one-row reduction is split across
    threads), so a seed trained alone would not get the numbers it gets beside others. Beside a copy of
    itself (the copy's lane is dropped from every output) it gets them bit for bit; see
    tests/test_chunk_invariance.py.
    """
    return list(seeds) if len(seeds) > 1 else list(seeds) * 2


@dataclass
class Member:
    """One run's seeds (all of them, or one chunk) among a batched model's lanes [lo, hi)."""

    run: RunSpec
    seeds: list[int]
    data: TaskData
    lo: int
    hi: int
    # Its own model, on its own lanes (a lone seed twice): observables and snapshots read this, so they see
    # exactly the model the run has alone. When a member is alone in its batch it is the batched model itself.
    module: nn.Module
    opt: optimizers.Optimizer
    snapshots: Snapshots
    # (view of its lanes, the batched parameter) for each parameter its optimizer updates (packed members only)
    views: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)
    progress: ProgressWriter | None = None
    records: list = field(default_factory=list)  # (step, metric, values, alive) as the loop logs them
    diverged: dict[int, int] = field(default_factory=dict)  # seed -> first step with a non-finite loss
    rng: torch.Tensor | None = None  # its global random stream (observables that draw from it), when packed

    @property
    def n(self) -> int:
        return len(self.seeds)

    def observes_at(self, step: int, final: bool) -> bool:
        every = [obs.every or self.run.train.eval_every for obs in self.run.observables]
        return final or step in self.snapshots.steps or any(step % e == 0 for e in every)


def build(parts: list[tuple[RunSpec, list[int]]], data: list[TaskData], device: str,
          progress: list[ProgressWriter | None]) -> tuple[nn.Module, list[Member]]:
    """The batched model of `parts` (each a run and the seeds of it to train), and its members."""
    if len(parts) == 1:
        (run, seeds), = parts
        model = build_model(run, data[0], lone_seed_lanes(seeds)).to(device)
        opt = optimizers.build(run.train, model, blueprint(run).model)
        return model, [Member(run, seeds, data[0], 0, len(seeds), model, opt, Snapshots(run.train.snapshots),
                              progress=progress[0])]
    lanes = [s for _, seeds in parts for s in seeds]
    model = build_model(parts[0][0], data[0], lanes).to(device)
    members, lo = [], 0
    rng = torch.get_rng_state()
    for (run, seeds), d, prog in zip(parts, data, progress):
        own = build_model(run, d, lone_seed_lanes(seeds)).to(device)
        hi = lo + len(seeds)
        views = {}
        with torch.no_grad():
            for name, p in model.named_parameters():
                p[lo:hi].copy_(own.get_parameter(name)[:len(seeds)])  # its own initial weights
                views[name] = p.detach()[lo:hi]
        opt = optimizers.build_over(run.train, list(views.items()), blueprint(run).model)
        members.append(Member(run, seeds, d, lo, hi, own, opt, Snapshots(run.train.snapshots),
                              [(views[name], p) for name, p in model.named_parameters()], prog, rng=rng.clone()))
        lo = hi
    return model, members


def sync(model: nn.Module, m: Member) -> None:
    """Copy the member's lanes of the batched model into its own model (for its observables and snapshots)."""
    if m.module is model:
        return
    with torch.no_grad():
        for name, p in model.named_parameters():
            m.module.get_parameter(name).copy_(p[m.lo:m.hi])  # a lone seed's lane into both of its lanes


def bind_grads(model: nn.Module, members: list[Member]) -> None:
    """Point each packed member's optimizer at its lanes of the gradients just computed."""
    for m in members:
        for view, p in m.views:
            view.grad = None if p.grad is None else p.grad[m.lo:m.hi]


def clip_lanes(model: nn.Module, members: list[Member]) -> None:
    """Each member's gradient clipping, per seed, in one pass over the batch (a lane without it is left as it is)."""
    limits = [m.run.train.grad_clip for m in members]
    if all(c is None for c in limits):
        return
    inf = float("inf")
    per_lane = torch.cat([torch.full((m.hi - m.lo,), inf if c is None else c) for m, c in zip(members, limits)])
    optimizers.clip_per_seed(model.parameters(), per_lane.to(next(model.parameters()).device))


class PackBatches:
    """Each step's batch for packed members: one Batches per distinct data set (runs on the same data share
    one, drawing per seed as alone), their batches joined along the lanes."""

    def __init__(self, members: list[Member], batch_size, device: str):
        groups: list[tuple[TaskData, list[int]]] = []
        for m in members:  # members on the same data are next to each other (see refute.training.loop.fit_pack)
            if groups and groups[-1][0] is m.data:
                groups[-1][1].extend(m.seeds)
            else:
                groups.append((m.data, list(m.seeds)))
        self.parts = [Batches(d, batch_size, seeds, device) for d, seeds in groups]
        self.sizes = [len(seeds) for _, seeds in groups]

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        if len(self.parts) == 1:
            return self.parts[0].next()
        xs, ys = [], []
        for b, n in zip(self.parts, self.sizes):
            x, y, batched = b.next()
            xs.append(x if batched else x.expand(n, *x.shape))
            ys.append(y)
        return torch.cat(xs), torch.cat(ys), True

    def state_dict(self) -> dict:
        return {"parts": [b.state_dict() for b in self.parts]}

    def load_state_dict(self, state: dict) -> None:
        for b, s in zip(self.parts, state["parts"], strict=True):
            b.load_state_dict(s)


class Stateful:
    """What a resume must restore of the members (optimizers, snapshots, records, divergences, random streams),
    with state_dict()/load_state_dict() like the model's."""

    def __init__(self, members: list[Member]):
        self.members = members

    def state_dict(self) -> dict:
        return {"members": [{"optimizer": m.opt.state_dict(), "snapshots": m.snapshots.state_dict(),
                             "records": _records(m.records), "diverged": dict(m.diverged), "rng": m.rng}
                            for m in self.members]}

    def load_state_dict(self, state: dict) -> None:
        for m, s in zip(self.members, state["members"], strict=True):
            m.opt.load_state_dict(s["optimizer"])
            m.snapshots.load_state_dict(s["snapshots"])
            m.records[:] = _unrecords(s["records"])
            m.diverged.clear()
            m.diverged.update(s["diverged"])
            m.rng = s["rng"]


def _records(records: list) -> dict:
    import numpy as np

    return {
        "step": torch.tensor([r[0] for r in records], dtype=torch.int64),
        "metric": [r[1] for r in records],
        "values": torch.from_numpy(np.stack([r[2] for r in records])) if records else torch.empty(0),
        "alive": torch.from_numpy(np.stack([r[3] for r in records])) if records else torch.empty(0),
    }


def _unrecords(r: dict) -> list:
    return [(int(s), m, v.numpy(), a.numpy()) for s, m, v, a in zip(r["step"], r["metric"], r["values"], r["alive"])]
