"""What a training job costs, from its run spec's blueprint alone: FLOPs, memory, and the resources to ask for.

Counted without torch (refute.spec.blueprint), so the Snakefile sizes jobs at parse time without importing it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from refute.scaling import tuning
from refute.spec.blueprint import blueprint

if TYPE_CHECKING:
    from refute.spec.schema import RunSpec

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
class JobCost:
    """One training job: `seeds` seeds of one run, trained and evaluated for the whole step budget.

    The job trains its seeds as `batches` batched models one after another (seed chunks, refute.scaling.tuning),
    `lanes` models in all: a batch of one seed gets a copy of itself beside it (refute.training.loop), so it
    costs two lanes. Each batch pays the per-step and per-evaluation overhead; every lane pays its FLOPs.
    """

    seeds: int
    steps: int
    evals: int
    params_per_seed: int
    train_flops: float
    eval_flops: float
    memory_bytes: float  # tensors only, at the peak (training step or evaluation)
    lanes: int = 0  # 0: as many as seeds
    batches: int = 1

    @property
    def flops(self) -> float:
        return self.train_flops + self.eval_flops

    @property
    def seed_step_flops(self) -> float:
        """Training FLOPs of one seed's model in one step (how big its products are)."""
        return self.train_flops / max(self.steps * self.seeds, 1)

    @property
    def computed_flops(self) -> float:
        """The FLOPs the machine does, copies of lone seeds included (`flops` counts the seeds' own)."""
        return self.flops * (self.lanes or self.seeds) / max(self.seeds, 1)

    @property
    def models(self) -> int:
        return self.seeds


def job_cost(run: RunSpec, seeds: int | None = None) -> JobCost:
    """FLOPs and peak tensor memory of training `seeds` (default: all) of `run`."""
    bp = blueprint(run)
    S = len(bp.seeds) if seeds is None else seeds
    size = tuning.seeds_per_chunk(bp.step_flops(1), S)  # as refute.training.loop.fit splits them
    sizes = [size] * (S // size) + ([S % size] if S % size else [])
    lanes = sum(2 if n == 1 else n for n in sizes)
    return JobCost(S, bp.steps, bp.evals, bp.params_per_seed, bp.train_flops(S), bp.eval_flops(S), bp.memory_bytes(S),
                   lanes, len(sizes))


def pack_cost(members: list[JobCost]) -> JobCost:
    """One job training several runs as one batched model (refute.training.lanes): their seeds side by side,
    each run evaluated on its own model (a copy of its lanes, so its tensors count twice at an evaluation)."""
    if len(members) == 1:
        return members[0]
    return JobCost(sum(c.seeds for c in members), members[0].steps, sum(c.evals for c in members),
                   members[0].params_per_seed, sum(c.train_flops for c in members), sum(c.eval_flops for c in members),
                   2 * sum(c.memory_bytes for c in members))


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
