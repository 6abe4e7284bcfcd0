"""Which pending runs a workflow trains together, as one batched model per pack (refute.training.lanes).

Runs pack when their models have the same shapes (refute.spec.packing.pack_key) and they ask for the same
device. A pack holds at most as many seeds as the tuner trains in one batch (refute.scaling.tuning: a pack's
step stays as big as one run's largest chunk, so big models, which already fill a step, are not packed), and
fits the workflow's memory limit. When there are fewer training jobs than cores, the largest packs are split
so that every core has one. A pack's runs each keep their own hash, folder, outputs and numbers.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import TYPE_CHECKING, Callable

from refute.scaling import costs, tuning
from refute.spec.blueprint import blueprint
from refute.spec.packing import pack_key

if TYPE_CHECKING:
    from refute.spec.schema import RunSpec


def pack_id(runs: tuple[str, ...]) -> str:
    """A pack's name, from its runs' hashes: the same runs make the same pack."""
    return hashlib.sha256(" ".join(sorted(runs)).encode()).hexdigest()[:16]


def plan_packs(runs: dict[str, RunSpec], pending: list[str], device: Callable[[str], str],
               mem_limit_mb: int | None = None, cores: int | None = None, other_jobs: int = 0) -> dict[str, tuple[str, ...]]:
    """Packs of two or more of the `pending` runs (hashes), by pack id; `other_jobs`: the training jobs the
    workflow has besides those packs and runs (for the core count)."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for h in sorted(pending):
        groups[pack_key(runs[h]), device(h)].append(h)
    packs: list[list[str]] = []
    for (_, where), hashes in groups.items():
        bp = blueprint(runs[hashes[0]])
        lanes = tuning.seeds_per_chunk(bp.step_flops(1), 1 << 30)  # the most seeds one batched step holds
        current: list[str] = []
        for h in hashes:
            trial = current + [h]
            seeds = sum(len(runs[k].seeds) for k in trial)
            mem = costs.mem_mb(costs.pack_cost([costs.job_cost(runs[k]) for k in trial]), where)
            if current and (seeds > lanes or (mem_limit_mb and mem > mem_limit_mb)):
                packs.append(current)
                trial = [h]
            current = trial
        packs.append(current)
    # Fewer jobs than cores: the packs with the most seeds per job are cut, until every core has a job.
    seeds = [sum(len(runs[k].seeds) for k in p) for p in packs]
    parts = [1] * len(packs)
    while cores and sum(parts) + other_jobs < cores:
        cut = [i for i in range(len(packs)) if parts[i] < len(packs[i])]
        if not cut:
            break
        parts[max(cut, key=lambda i: seeds[i] / parts[i])] += 1
    packs = [piece for p, k in zip(packs, parts) for piece in _cut(p, k, runs)]
    return {pack_id(tuple(p)): tuple(p) for p in packs if len(p) > 1}


def _cut(pack: list[str], k: int, runs: dict[str, RunSpec]) -> list[list[str]]:
    """A pack cut into k runs of consecutive members with about equal seeds."""
    total = sum(len(runs[h].seeds) for h in pack)
    out: list[list[str]] = [[] for _ in range(k)]
    acc = 0
    for i, h in enumerate(pack):
        # the piece this run's middle falls in, but never leaving a later piece empty
        piece = min(int((acc + len(runs[h].seeds) / 2) * k / total), k - 1)
        piece = max(piece, k - (len(pack) - i))
        out[piece].append(h)
        acc += len(runs[h].seeds)
    return [p for p in out if p]
