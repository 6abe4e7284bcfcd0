"""What a training job costs, from its run spec alone: FLOPs, memory, and the resources to ask for.

Counted without torch where a component says how (a task declares its TaskInfo, a model module
defines `cost(params, info) -> ModelCost`), so the Snakefile can size jobs at parse time without
importing torch; a component that says nothing is built once, on the CPU, and measured.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from refute.components.models import MODELS
from refute.components.tasks import TASKS
from refute.components.tasks import task_info

# A training job's resident memory besides the counted tensors: python, torch, pandas, pyarrow (~300 MB
# measured after imports) plus the allocator's temporaries (a grokking-sized job, 5 seeds, peaked at 570 MB
# with 88 MB of counted tensors; 50 seeds at 1.2 GB with 880 MB).
BASE_MB = 600
# A CUDA context adds host memory of its own (driver, kernels): ~1-2 GB in practice.
CUDA_BASE_MB = 2000
# Conservative rates for the time limit asked of a scheduler, well under what was measured here
# (~75 GFLOP/s per core in batched float32 GEMMs, ~0.3 ms of per-step overhead on small models), so
# a job on a slower node is not killed; the limit is this estimate times RUNTIME_SAFETY, plus start-up.
CPU_FLOPS_PER_THREAD = 20e9
GPU_FLOPS = 2e12
STEP_OVERHEAD_S = {"cpu": 2e-3, "cuda": 1e-3}
RUNTIME_SAFETY = 2.0
MIN_RUNTIME_MIN = 10


@dataclass(frozen=True)
class ModelCost:
    params: int  # per seed
    flops_per_example: float  # one forward pass, 2 FLOPs per multiply-add
    activations_per_example: float  # floats kept for the backward pass


@dataclass(frozen=True)
class JobCost:
    """One training job: `seeds` seeds of one run, trained and evaluated for the whole step budget."""

    seeds: int
    steps: int
    evals: int
    params_per_seed: int
    train_flops: float
    eval_flops: float
    memory_bytes: float  # tensors only, at the peak (training step or evaluation)

    @property
    def flops(self) -> float:
        return self.train_flops + self.eval_flops

    @property
    def models(self) -> int:
        return self.seeds


def _hook(entry, name: str):
    return getattr(sys.modules[entry.impl.__module__], name, None)


_models: dict[str, ModelCost] = {}


def model_cost(model, task) -> ModelCost:
    key = model.model_dump_json() + task.model_dump_json()
    if key not in _models:
        _models[key] = _model_cost(model, task)
    return _models[key]


def _model_cost(model, task) -> ModelCost:
    entry, shape = MODELS.get(model.name), task_info(task)
    cost = _hook(entry, "cost")
    if cost is not None:
        return cost(model.params, shape)
    # No hook: build one seed on the CPU and count; a dense network does ~2 FLOPs per parameter per example.
    data = TASKS.get(task.name).impl(task.params)
    net = entry.impl(model.params, data, [0])
    n = sum(p.numel() for p in net.parameters())
    return ModelCost(n, 2.0 * n, 4.0 * (shape.in_dim + shape.out_dim) + math.sqrt(n))


def eval_steps(run) -> int:
    """How many evaluation points the loop makes: every observable's period, plus the final step."""
    steps = run.train.steps
    periods = sorted({obs.every or run.train.eval_every for obs in run.observables})
    if len(periods) == 1 or steps // periods[0] > 1_000_000:
        return steps // periods[0] + 1 + (steps % periods[0] != 0)
    points = {steps}
    for every in periods:
        points.update(range(0, steps + 1, every))
    return len(points)


def job_cost(run, seeds: int | None = None) -> JobCost:
    """FLOPs and peak tensor memory of training `seeds` (default: all) of `run`."""
    S = len(run.seeds) if seeds is None else seeds
    shape, m = task_info(run.task), model_cost(run.model, run.task)
    bs = run.train.batch_size
    batch = shape.n_train if bs == "full" else min(int(bs), shape.n_train) if shape.n_train else int(bs)
    n_eval = shape.n_train + shape.n_val
    evals = eval_steps(run)
    # Forward + backward ≈ 3 forward passes; an evaluation is one forward pass over train and validation.
    train = 3.0 * m.flops_per_example * batch * S * run.train.steps
    evaluate = m.flops_per_example * n_eval * S * evals
    # fp32: weights, gradients and two optimizer moments, and the weight snapshots; activations and
    # their gradients for the batch; at evaluation, the cached train and validation outputs plus one
    # hidden layer in flight.
    state = 4 * 4 * m.params * S
    snapshots = 4 * m.params * S * len(getattr(run.train, "snapshots", ()) or ())  # kept on the CPU until saved
    step = 4 * 2 * m.activations_per_example * batch * S
    evaluation = 4 * (shape.out_dim + m.activations_per_example / 2) * n_eval * S
    return JobCost(S, run.train.steps, evals, m.params, train, evaluate, state + snapshots + max(step, evaluation))


def mem_mb(cost: JobCost, device: str) -> int:
    """Host memory to ask for, in MB (rounded up to 100 MB). On a GPU, the tensors live in GPU memory."""
    tensors = cost.memory_bytes / 2**20
    base = BASE_MB + (CUDA_BASE_MB if device == "cuda" else 0)
    host = base + (0.5 * tensors if device == "cuda" else 1.5 * tensors)
    return int(math.ceil(host / 100) * 100)


def estimated_seconds(cost: JobCost, device: str, threads: int = 1) -> float:
    """A deliberately pessimistic compute time, for the scheduler's limit (not the plan's estimate)."""
    rate = GPU_FLOPS if device == "cuda" else CPU_FLOPS_PER_THREAD * max(1, threads)
    return cost.flops / rate + STEP_OVERHEAD_S["cuda" if device == "cuda" else "cpu"] * (cost.steps + cost.evals)


def runtime_min(cost: JobCost, device: str, threads: int = 1) -> int:
    """The time limit to ask for, in minutes: the pessimistic estimate, doubled, plus 5 minutes of start-up."""
    seconds = RUNTIME_SAFETY * estimated_seconds(cost, device, threads) + 300
    return max(MIN_RUNTIME_MIN, int(math.ceil(seconds / 60)))
