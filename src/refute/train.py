"""The training loop: every seed of one condition trained at once as one seed-batched model.

A seed's numbers do not depend on which seeds share its batch: each seed has its own
initialization and data generator, the loss is a sum of per-seed means (so each seed's
gradient is its own), the optimizers act elementwise and gradients are clipped per seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from refute import objectives, optimizers
from refute.observables._base import EvalContext
from refute.registry import MODELS, OBSERVABLES, TASKS
from refute.snapshots import Snapshots
from refute.tasks._base import TaskData

METRIC_COLUMNS = ["seed", "step", "metric", "value"]


@dataclass
class FitResult:
    metrics: pd.DataFrame  # tidy: seed, step, metric, value
    state: dict[str, torch.Tensor]  # parameters with a leading seed dimension
    seeds: list[int]
    diverged: dict[int, int] = field(default_factory=dict)  # seed -> first step with a non-finite loss
    wall_seconds: float = 0.0
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)  # step -> state (train.snapshots)


class Batches:
    """Each step's training batch. Full batch shares the training set; minibatches are drawn per seed
    from the seed's own generator; an online task draws fresh examples per seed the same way."""

    def __init__(self, data: TaskData, batch_size, seeds: list[int]):
        self.data, n = data, len(data.x_train)
        self.size = n if batch_size == "full" else int(batch_size)
        self.full = not data.online and self.size >= n
        self.y_full = objectives.shared(data.y_train, len(seeds))
        # Offset from the init seed so data order and initialization are independent streams.
        self.gens = [torch.Generator().manual_seed(int(s) + 7919) for s in seeds]

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(x, y, batched): x shared by all seeds ([B, ...], batched False) or per seed ([S, B, ...])."""
        d = self.data
        if self.full:
            return d.x_train, self.y_full, False
        if d.online:
            xs, ys = zip(*(d.sample(g, self.size) for g in self.gens))
            return torch.stack(xs), torch.stack(ys), True
        idx = torch.stack([torch.randint(0, len(d.x_train), (self.size,), generator=g) for g in self.gens])
        return d.x_train[idx], d.y_train[idx], True


def _observe(run, model, data, step: int, final: bool, lr: float) -> list[tuple[str, np.ndarray]]:
    ctx = EvalContext(model, data, step, lr, list(run.seeds))
    out = []
    for obs in run.observables:
        every = obs.every or run.train.eval_every
        if step % every == 0 or final:
            for metric, values in OBSERVABLES.get(obs.name).impl.compute(obs, ctx).items():
                out.append((metric, values.detach().double().numpy()))
    return out


def fit(run, log=print) -> FitResult:
    """Train every seed of `run` (a validated run spec) and return its logged metrics and weights."""
    t0 = time.perf_counter()
    seeds, train, steps = list(run.seeds), run.train, run.train.steps
    data = TASKS.get(run.task.name).impl(run.task.params)
    model = MODELS.get(run.model.name).impl(run.model.params, data, seeds)
    opt = optimizers.build(train, model)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: optimizers.lr_factor(train.schedule, t, steps))
    batches = Batches(data, train.batch_size, seeds)

    alive = torch.ones(len(seeds), dtype=torch.bool)
    diverged: dict[int, int] = {}
    records: list[tuple[int, str, np.ndarray, np.ndarray]] = []  # step, metric, values, alive
    report_every = max(1, steps // 10)
    snapshots = Snapshots(run.train.snapshots)
    for step in range(steps + 1):
        final = step == steps
        snapshots.take(step, model)
        lr = train.lr * optimizers.lr_factor(train.schedule, step, steps)
        for metric, values in _observe(run, model, data, step, final, lr):
            records.append((step, metric, values, alive.numpy().copy()))
        if final:
            break
        x, y, batched = batches.next()
        loss = objectives.loss(model(x, batched=batched), y, data.objective)
        finite = torch.isfinite(loss.detach())
        if not finite[alive].all():
            # A diverged seed stops being logged; its slice of the batch cannot affect the others.
            for i in torch.nonzero(alive & ~finite).flatten().tolist():
                diverged[seeds[i]] = step
                log(f"seed {seeds[i]} diverged at step {step} (loss {loss[i].item()})")
            alive &= finite
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        if train.grad_clip is not None:
            optimizers.clip_per_seed(model.parameters(), train.grad_clip)
        opt.step()
        schedule.step()
        if step % report_every == 0:
            live = loss.detach()[alive]
            mean = live.mean().item() if len(live) else math.nan
            log(f"step {step}/{steps}  mean train loss {mean:.4g}  ({time.perf_counter() - t0:.1f}s)")

    frame = _tidy(records, seeds)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return FitResult(frame, state, seeds, diverged, time.perf_counter() - t0, snapshots.states)


def _tidy(records: list[tuple[int, str, np.ndarray, np.ndarray]], seeds: list[int]) -> pd.DataFrame:
    if not records:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    S = len(seeds)
    frame = pd.DataFrame({
        "seed": np.tile(np.asarray(seeds, dtype=np.int64), len(records)),
        "step": np.repeat([r[0] for r in records], S).astype(np.int64),
        "metric": np.repeat([r[1] for r in records], S),
        "value": np.concatenate([r[2] for r in records]),
    })
    # A diverged seed's rows end at its last finite step; every live value is kept, even a NaN.
    frame = frame[np.concatenate([r[3] for r in records])]
    return frame.sort_values(["metric", "seed", "step"], kind="stable").reset_index(drop=True)
