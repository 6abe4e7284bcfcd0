"""The training loop: every seed of one condition trained at once as one seed-batched model.

A seed's numbers do not depend on which seeds share its batch: each seed has its own
initialization and data generator, the loss is a sum of per-seed means (so each seed's
gradient is its own), the optimizers act elementwise and gradients are clipped per seed.
Nor do they depend on it by rounding, bit for bit: batched products and per-seed reductions
round alike for any number of seeds from two on, a lone seed gets a copy of itself as a
batch-mate (lone_seed_lanes), and Adam keeps every element on its vector lanes
(refute.components.optimizers.UNIT); tests/test_chunk_invariance.py checks every model family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from refute.components import objectives
from refute.components import optimizers
from refute.components.batches import Batches
from refute.scaling import tuning
from refute.training.checkpoint import Checkpoint, capture, restore
from refute.components.models import build_model
from refute.components.observables import EvalContext, measure
from refute.components.tasks import TaskData, build_task
from refute.spec.blueprint import blueprint
from refute.training.progress import ProgressWriter
from refute.training.snapshots import Snapshots

if TYPE_CHECKING:
    from refute.spec.schema import RunSpec

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


def _observe(run: RunSpec, model, data, seeds: list[int], step: int, final: bool, lr: float) -> list[tuple[str, np.ndarray]]:
    ctx = EvalContext(model, data, step, lr, seeds)
    out = []
    for obs in run.observables:
        every = obs.every or run.train.eval_every
        if step % every == 0 or final:
            for metric, values in measure(obs, ctx).items():
                out.append((metric, values.detach().double().cpu().numpy()))
    return out


def _to(data: TaskData, device: str) -> TaskData:
    if device == "cpu":
        return data
    moved = {f.name: getattr(data, f.name).to(device) for f in dataclasses.fields(data)
             if isinstance(getattr(data, f.name), torch.Tensor)}
    return dataclasses.replace(data, **moved)


def fit(run: RunSpec, log=print, checkpoint: Checkpoint | None = None, device: str = "cpu",
        progress: ProgressWriter | None = None) -> FitResult:
    """Train every seed of `run` (a validated run spec) on `device` ('cpu' or 'cuda') and return its
    logged metrics and weights (on the CPU).

    Seeds are trained as one batched model, or in chunks when one step of all of them would be big
    (see refute.scaling.tuning; the chunks follow from the spec alone). With a `checkpoint`, resume from
    it if it holds a state of this run, and save one when it is due. With `progress`, write the run's
    progress as it goes (a side channel: it reads values the loop computes anyway).
    """
    seeds = list(run.seeds)
    data = build_task(run.task)
    size = tuning.choose(blueprint(run)).seeds_per_chunk
    # Data and initial weights are made on the CPU from their seeded generators, then moved, so a
    # run starts from the same numbers on every device.
    data = _to(data, device)
    chunks = [seeds[i:i + size] for i in range(0, len(seeds), size)]
    if len(chunks) > 1:
        log(f"training {len(seeds)} seeds in {len(chunks)} chunks of up to {size}")
    parts = [_fit_seeds(run, data, chunk, log, checkpoint and checkpoint.part(i, len(chunks)), device,
                        progress, (i, len(chunks)))
             for i, chunk in enumerate(chunks)]
    if len(parts) == 1:
        return parts[0]
    metrics = pd.concat([p.metrics for p in parts], ignore_index=True)
    def cat(states):  # per-chunk states -> one state with every seed on dim 0
        return {k: torch.cat([s[k] for s in states]) for k in states[0]}

    return FitResult(metrics.sort_values(["metric", "seed", "step"], kind="stable").reset_index(drop=True),
                     cat([p.state for p in parts]), seeds, {s: step for p in parts for s, step in p.diverged.items()},
                     sum(p.wall_seconds for p in parts),
                     {step: cat([p.snapshots[step] for p in parts]) for step in parts[0].snapshots}, device)


def _fit_seeds(run: RunSpec, data: TaskData, seeds: list[int], log, checkpoint: Checkpoint | None,
               device: str = "cpu", progress: ProgressWriter | None = None, part: tuple[int, int] = (0, 1)
               ) -> FitResult:
    """Train `seeds` of `run` as one seed-batched model (part `part[0]` of `part[1]` of the job's seeds)."""
    t0 = time.perf_counter()
    train, steps = run.train, run.train.steps
    n = len(seeds)
    lanes = lone_seed_lanes(seeds)
    model = build_model(run, data, lanes).to(device)
    opt = optimizers.build(train, model, blueprint(run).model)
    batches = Batches(data, train.batch_size, lanes, device)

    alive = torch.ones(len(lanes), dtype=torch.bool)
    diverged: dict[int, int] = {}
    records: list[tuple[int, str, np.ndarray, np.ndarray]] = []  # step, metric, values, alive
    report_every = max(1, steps // 10)
    snapshots = Snapshots(run.train.snapshots)
    start, spent = 0, 0.0
    # What a resume must restore, each with state_dict()/load_state_dict().
    stateful = {"model": model, "optimizer": opt, "batches": batches, "snapshots": snapshots}
    if checkpoint and (saved := checkpoint.load()):
        start, spent = restore(saved, stateful, records, alive, diverged)
    if progress:
        progress.start(seeds, steps, *part)
        last_loss = math.nan
    for step in range(start, steps + 1):
        if checkpoint and step > start and checkpoint.due():
            checkpoint.save(capture(step, stateful, records, alive, diverged, spent + time.perf_counter() - t0))
        final = step == steps
        snapshots.take(step, model)
        factor = optimizers.lr_factor(train.schedule, step, steps)
        for metric, values in _observe(run, model, data, lanes, step, final, train.lr * factor):
            records.append((step, metric, values[:n], alive[:n].numpy().copy()))
            if progress:
                progress.metric(step, metric, values, records[-1][3])
        if final:
            break
        x, y, batched = batches.next()
        loss = objectives.loss(model(x, batched=batched), y, data.objective)
        finite = torch.isfinite(loss.detach()).cpu()
        if not finite.all() and (newly := alive & ~finite).any():
            # A diverged seed stops being logged; its slice of the batch cannot affect the others.
            for i in torch.nonzero(newly[:n]).flatten().tolist():
                diverged[seeds[i]] = step
                log(f"seed {seeds[i]} diverged at step {step} (loss {loss[i].item()})")
            alive &= finite
        optimizers.update(opt, model, loss, train.grad_clip, factor)
        if step % report_every == 0 or (progress and progress.due(step)):
            live = loss.detach().cpu()[:n][alive[:n]]
            mean = live.mean().item() if len(live) else math.nan
            if progress:
                progress.step(step, mean)
                last_loss = mean
            if step % report_every == 0:
                log(f"step {step}/{steps}  mean train loss {mean:.4g}  ({time.perf_counter() - t0:.1f}s)")

    if progress:
        progress.step(steps, last_loss)
    if checkpoint and checkpoint.keep_finished and start <= steps:
        # One chunk of several: keep it, so a kill during a later chunk does not lose this one.
        checkpoint.save(capture(steps + 1, stateful, records, alive, diverged, spent + time.perf_counter() - t0))
    frame = _tidy(records, seeds)
    state = {k: v.detach()[:n].cpu().clone() for k, v in model.state_dict().items()}
    taken = snapshots.states if len(lanes) == n else {
        step: {k: v[:n].clone() for k, v in st.items()} for step, st in snapshots.states.items()}
    return FitResult(frame, state, seeds, diverged, spent + time.perf_counter() - t0, taken, device)


def lone_seed_lanes(seeds: list[int]) -> list[int]:
    """The seeds a batched model is built for: `seeds`, or a lone seed twice.

    A batch of one seed takes other kernels than a batch of several (BLAS turns a one-column product into
    a matrix-vector product, grouped convolution becomes a plain one, a one-row reduction is split across
    threads), so a seed trained alone would not get the numbers it gets beside others. Beside a copy of
    itself (the copy's lane is dropped from every output) it gets them bit for bit; see
    tests/test_chunk_invariance.py.
    """
    return list(seeds) if len(seeds) > 1 else list(seeds) * 2


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
