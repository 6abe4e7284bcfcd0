"""The training loop: every seed of one condition trained at once as one seed-batched model.

A seed's numbers do not depend on which seeds share its batch: each seed has its own
initialization and minibatch generator, the loss is a sum of per-seed means (so each seed's
gradient is its own), and the optimizers act elementwise.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from refute import objectives
from refute.observables._base import EvalContext
from refute.registry import MODELS, OBSERVABLES, OPTIMIZERS, TASKS
from refute.snapshots import Snapshots

METRIC_COLUMNS = ["seed", "step", "metric", "value"]


@dataclass
class FitResult:
    metrics: pd.DataFrame  # tidy: seed, step, metric, value
    state: dict[str, torch.Tensor]  # parameters with a leading seed dimension
    seeds: list[int]
    diverged: dict[int, int] = field(default_factory=dict)  # seed -> first step with a non-finite loss
    wall_seconds: float = 0.0
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)  # step -> state (train.snapshots)
    device: str = "cpu"


class Batches:
    """Minibatch indices drawn per seed from the seed's own generator; full batch shares the data."""

    def __init__(self, n: int, batch_size, seeds: list[int]):
        self.n, self.full = n, batch_size == "full" or batch_size >= n
        self.size = n if self.full else int(batch_size)
        # Offset from the init seed so data order and initialization are independent streams.
        self.gens = [torch.Generator().manual_seed(int(s) + 7919) for s in seeds]

    def indices(self, device: str = "cpu") -> torch.Tensor | None:
        if self.full:
            return None
        # Drawn on the CPU whatever the device, so every device sees the same minibatches.
        return torch.stack([torch.randint(0, self.n, (self.size,), generator=g) for g in self.gens]).to(device)


def _observe(run, model, data, step: int, final: bool) -> list[tuple[str, np.ndarray]]:
    ctx = EvalContext(model, data, step)
    out = []
    for obs in run.observables:
        every = obs.every or run.train.eval_every
        if step % every == 0 or final:
            for metric, values in OBSERVABLES.get(obs.name).impl.compute(obs, ctx).items():
                out.append((metric, values.detach().double().cpu().numpy()))
    return out


def _to(data, device: str):
    if device == "cpu":
        return data
    moved = {f.name: getattr(data, f.name).to(device) for f in dataclasses.fields(data)
             if isinstance(getattr(data, f.name), torch.Tensor)}
    return dataclasses.replace(data, **moved)


def fit(run, log=print, device: str = "cpu") -> FitResult:
    """Train every seed of `run` (a validated run spec) on `device` ('cpu' or 'cuda') and return its
    logged metrics and weights (on the CPU)."""
    t0 = time.perf_counter()
    seeds = list(run.seeds)
    # Data and initial weights are made on the CPU from their seeded generators, then moved, so a
    # run starts from the same numbers on every device.
    data = _to(TASKS.get(run.task.name).impl(run.task.params), device)
    model = MODELS.get(run.model.name).impl(run.model.params, data, seeds).to(device)
    opt = OPTIMIZERS.get(run.train.optimizer.name).impl(run.train.optimizer.params, model.parameters(), run.train)
    batches = Batches(len(data.x_train), run.train.batch_size, seeds)
    y_full = objectives.shared(data.y_train, len(seeds))
    steps = run.train.steps

    alive = torch.ones(len(seeds), dtype=torch.bool)
    diverged: dict[int, int] = {}
    records: list[tuple[int, str, np.ndarray, np.ndarray]] = []  # step, metric, values, alive
    report_every = max(1, steps // 10)
    snapshots = Snapshots(run.train.snapshots)
    for step in range(steps + 1):
        final = step == steps
        snapshots.take(step, model)
        for metric, values in _observe(run, model, data, step, final):
            records.append((step, metric, values, alive.numpy().copy()))
        if final:
            break
        idx = batches.indices(device)
        if idx is None:
            out, y = model(data.x_train), y_full
        else:
            out, y = model(data.x_train[idx], batched=True), data.y_train[idx]
        loss = objectives.loss(out, y, data.objective)
        finite = torch.isfinite(loss.detach()).cpu()
        if not finite[alive].all():
            # A diverged seed stops being logged; its slice of the batch cannot affect the others.
            for i in torch.nonzero(alive & ~finite).flatten().tolist():
                diverged[seeds[i]] = step
                log(f"seed {seeds[i]} diverged at step {step} (loss {loss[i].item()})")
            alive &= finite
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        if step % report_every == 0:
            live = loss.detach().cpu()[alive]
            mean = live.mean().item() if len(live) else math.nan
            log(f"step {step}/{steps}  mean train loss {mean:.4g}  ({time.perf_counter() - t0:.1f}s)")

    frame = _tidy(records, seeds)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return FitResult(frame, state, seeds, diverged, time.perf_counter() - t0, snapshots.states, device)


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
