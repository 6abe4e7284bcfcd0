"""The training loop: every seed of one condition trained at once as one seed-batched model.

A seed's numbers do not depend on which seeds share its batch: each seed has its own
initialization and data generator, the loss is a sum of per-seed means (so each seed's
gradient is its own), the optimizers act elementwise and gradients are clipped per seed.
Nor do they depend on it by rounding, bit for bit: batched products and per-seed reductions
round alike for any number of seeds from two on, a lone seed gets a copy of itself as a
batch-mate (lone_seed_lanes), Adam keeps every element on its vector lanes
(refute.components.optimizers.UNIT), and MKL's products do not depend on a lane's alignment
(refute.scaling.blas); tests/test_chunk_invariance.py checks every model family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dataclasses
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from refute.components import objectives
from refute.components import optimizers
from refute.components.batches import Batches
from refute.scaling import blas, tuning
from refute.training import lanes
from refute.training.checkpoint import Checkpoint, capture, restore
from refute.training.metric_table import MetricTable
from refute.components.observables import EvalContext, measure
from refute.components.tasks import TaskData, build_task
from refute.spec.blueprint import blueprint
from refute.training.progress import ProgressWriter

if TYPE_CHECKING:
    import pandas as pd

    from refute.spec.schema import RunSpec


@dataclass
class FitResult:
    table: MetricTable  # tidy: seed, step, metric, value; sorted by metric, seed, step
    state: dict[str, torch.Tensor]  # parameters with a leading seed dimension
    seeds: list[int]
    diverged: dict[int, int] = field(default_factory=dict)  # seed -> first step with a non-finite loss
    wall_seconds: float = 0.0
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)  # step -> state (train.snapshots)
    device: str = "cpu"

    @property
    def metrics(self) -> pd.DataFrame:
        return self.table.frame()


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
    size = tuning.choose(blueprint(run)).seeds_per_chunk
    chunks = [seeds[i:i + size] for i in range(0, len(seeds), size)]
    if len(chunks) > 1:
        log(f"training {len(seeds)} seeds in {len(chunks)} chunks of up to {size}")
    # Data and initial weights are made on the CPU from their seeded generators, then moved, so a
    # run starts from the same numbers on every device.
    data = _to(build_task(run.task), device)
    parts = [_fit_members([(run, chunk)], [data], log, checkpoint and checkpoint.part(i, len(chunks)), device,
                          [progress], (i, len(chunks)))[0]
             for i, chunk in enumerate(chunks)]
    if len(parts) == 1:
        return parts[0]
    def cat(states):  # per-chunk states -> one state with every seed on dim 0
        return {k: torch.cat([s[k] for s in states]) for k in states[0]}

    return FitResult(MetricTable.concat([p.table for p in parts]),
                     cat([p.state for p in parts]), seeds, {s: step for p in parts for s, step in p.diverged.items()},
                     sum(p.wall_seconds for p in parts),
                     {step: cat([p.snapshots[step] for p in parts]) for step in parts[0].snapshots}, device)


def fit_pack(runs: list[RunSpec], log=print, checkpoint: Checkpoint | None = None, device: str = "cpu",
             progress: list[ProgressWriter | None] | None = None) -> list[FitResult]:
    """Train several runs whose models have the same shapes (refute.spec.packing) as one batched model, every
    seed of each; return each run's result, the very numbers `fit` gives it alone. One run is `fit`."""
    progress = progress or [None] * len(runs)
    if len(runs) == 1:
        return [fit(runs[0], log, checkpoint, device, progress[0])]
    # Each data set built once, and the runs on it next to each other (they draw their batches together).
    tasks = [r.task.model_dump_json() for r in runs]
    data = {k: _to(build_task(runs[tasks.index(k)].task), device) for k in dict.fromkeys(tasks)}
    order = sorted(range(len(runs)), key=lambda i: list(data).index(tasks[i]))
    results = _fit_members([(runs[i], list(runs[i].seeds)) for i in order], [data[tasks[i]] for i in order], log,
                           checkpoint, device, [progress[i] for i in order])
    out: list[FitResult] = [None] * len(runs)  # type: ignore[list-item]
    for i, r in zip(order, results):
        out[i] = r
    return out


def _fit_members(parts: list[tuple[RunSpec, list[int]]], data: list[TaskData], log, checkpoint: Checkpoint | None,
                 device: str = "cpu", progress: list[ProgressWriter | None] | None = None,
                 part: tuple[int, int] = (0, 1)) -> list[FitResult]:
    """Train `parts` (each a run and the seeds of it to train: part `part[0]` of `part[1]` of a run's seeds, or
    the whole runs of a pack) as one batched model."""
    if device == "cpu" and blas.reproducible() is False:
        warnings.warn(blas.NOT_REPRODUCIBLE, stacklevel=3)
    t0 = time.perf_counter()
    steps = parts[0][0].train.steps  # packed runs share their shapes and step count
    model, members = lanes.build(parts, data, device, progress or [None] * len(parts))
    alone = len(members) == 1
    batches = (Batches(data[0], parts[0][0].train.batch_size, lanes.lone_seed_lanes(parts[0][1]), device) if alone
               else lanes.PackBatches(members, parts[0][0].train.batch_size, device))
    objective = data[0].objective
    width = len(lanes.lone_seed_lanes(parts[0][1])) if alone else members[-1].hi
    alive = torch.ones(width, dtype=torch.bool)
    report_every = max(1, steps // 10)
    start, spent = 0, 0.0
    # What a resume must restore, each with state_dict()/load_state_dict().
    stateful = {"model": model, "batches": batches, "members": lanes.Stateful(members)}
    if checkpoint and (saved := checkpoint.load()):
        start, spent = restore(saved, stateful, alive)
    for m in members:
        if m.progress:
            m.progress.start(m.seeds, steps, *part)
    last_loss = {id(m): math.nan for m in members}
    for step in range(start, steps + 1):
        if checkpoint and step > start and checkpoint.due():
            checkpoint.save(capture(step, stateful, alive, spent + time.perf_counter() - t0))
        final = step == steps
        factors = [optimizers.lr_factor(m.run.train.schedule, step, steps) for m in members]
        for m, factor in zip(members, factors):
            if alone or m.observes_at(step, final):
                _evaluate(model, m, step, final, m.run.train.lr * factor, alive, alone)
        if final:
            break
        x, y, batched = batches.next()
        loss, backward = objectives.training_loss(model, x, y, batched, objective)
        finite = torch.isfinite(loss.detach()).cpu()
        if not finite.all() and (newly := alive & ~finite).any():
            # A diverged seed stops being logged; its slice of the batch cannot affect the others.
            for m in members:
                for i in torch.nonzero(newly[m.lo:m.lo + m.n]).flatten().tolist():
                    m.diverged[m.seeds[i]] = step
                    log(f"seed {m.seeds[i]} diverged at step {step} (loss {loss[m.lo + i].item()})"
                        + ("" if alone else f" ({_name(m)})"))
            alive &= finite
        if alone:
            m = members[0]
            optimizers.update(m.opt, model, loss, m.run.train.grad_clip, factors[0], backward)
        else:
            _update_pack(model, members, backward, factors)
        reporting = step % report_every == 0
        if reporting or any(m.progress and m.progress.due(step) for m in members):
            losses = loss.detach().cpu()
            for m in members:
                live = losses[m.lo:m.lo + m.n][alive[m.lo:m.lo + m.n]]
                mean = live.mean().item() if len(live) else math.nan
                if m.progress and (reporting or m.progress.due(step)):
                    m.progress.step(step, mean)
                    last_loss[id(m)] = mean
                if reporting:
                    log(f"step {step}/{steps}  mean train loss {mean:.4g}  ({time.perf_counter() - t0:.1f}s)"
                        + ("" if alone else f"  {_name(m)}"))

    for m in members:
        if m.progress:
            m.progress.step(steps, last_loss[id(m)])
    if checkpoint and checkpoint.keep_finished and start <= steps:
        # One chunk of several: keep it, so a kill during a later chunk does not lose this one.
        checkpoint.save(capture(steps + 1, stateful, alive, spent + time.perf_counter() - t0))
    wall = spent + time.perf_counter() - t0
    results = []
    for m in members:
        lanes.sync(model, m)
        state = {k: v.detach()[:m.n].cpu().clone() for k, v in m.module.state_dict().items()}
        taken = m.snapshots.states if len(lanes.lone_seed_lanes(m.seeds)) == m.n else {
            step: {k: v[:m.n].clone() for k, v in st.items()} for step, st in m.snapshots.states.items()}
        results.append(FitResult(_tidy(m.records, m.seeds), state, m.seeds, m.diverged, wall, taken, device))
    return results


def _evaluate(model, m: lanes.Member, step: int, final: bool, lr: float, alive: torch.Tensor, alone: bool) -> None:
    """Member m's snapshot and observables at `step`, read from its own lanes of the batched model."""
    if not alone:
        lanes.sync(model, m)
        restore_rng = torch.get_rng_state()
        torch.set_rng_state(m.rng)
    m.snapshots.take(step, m.module)
    own_alive = alive[m.lo:m.lo + m.n].numpy().copy()
    for metric, values in _observe(m.run, m.module, m.data, lanes.lone_seed_lanes(m.seeds), step, final, lr):
        m.records.append((step, metric, values[:m.n], own_alive))
        if m.progress:
            m.progress.metric(step, metric, values, own_alive)
    if not alone:
        m.rng = torch.get_rng_state()
        torch.set_rng_state(restore_rng)


def _update_pack(model, members: list[lanes.Member], backward, factors: list[float]) -> None:
    """One optimizer step of every packed member: one backward pass (objectives.training_loss's), then each
    member's clipping and its own optimizer, at its own rate, over its lanes."""
    for p in model.parameters():
        p.grad = None
    backward()
    lanes.clip_lanes(model, members)
    lanes.bind_grads(model, members)
    for m, factor in zip(members, factors):
        m.opt.set_lr_factor(factor)
        m.opt.step()


def _name(m: lanes.Member) -> str:
    return f"lr {m.run.train.lr:g}, seeds {m.seeds[0]}..{m.seeds[-1]}"


def _tidy(records: list[tuple[int, str, np.ndarray, np.ndarray]], seeds: list[int]) -> MetricTable:
    if not records:
        return MetricTable.empty()
    S = len(seeds)
    # A diverged seed's rows end at its last finite step; every live value is kept, even a NaN.
    keep = np.concatenate([r[3] for r in records])
    return MetricTable(np.tile(np.asarray(seeds, dtype=np.int64), len(records))[keep],
                       np.repeat(np.asarray([r[0] for r in records], dtype=np.int64), S)[keep],
                       np.repeat(np.asarray([r[1] for r in records], dtype=str), S)[keep],
                       np.concatenate([r[2] for r in records]).astype(np.float64)[keep]).sorted()
