"""How a training job uses the machine, chosen from the size of its work, never set by the user.

The choices depend on the run spec alone (threads also on the CPUs the job was given, never on the
load), so a run is reproduced bit for bit on the same machine; chunks of seeds match one batched
model bit for bit (tested), and the allocator only decides where memory comes from.

Measured on the 2-core development machine (benchmarks/trainer_speed.py has the figures):
- Tiny steps (a small MLP on a minibatch) are bound by per-operation overhead; a second thread only
  adds synchronisation (issue 10 saw a 4 s run take 158 s with two threads beside a busy process).
  Big matrix products (the grokking MLP on its full batch) scale with threads.
- A step whose temporaries are hundreds of MB (16 grokking seeds at once: [16, 2823, 512] floats)
  runs slower per FLOP than the same seeds in chunks of four, whose temporaries stay near the cache.
- glibc returns big freed blocks to the OS and takes them back on the next step, one page fault per
  4 kB: seconds of system time per run. Raising its mmap and trim thresholds keeps them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from refute.scaling import cpus

if TYPE_CHECKING:
    from refute.spec.blueprint import Blueprint

# Below this many FLOPs per optimizer step (all seeds), one thread: ops are too small to split.
ONE_THREAD_BELOW = 2e8
# At most this many FLOPs per step for one batched model; more seeds are trained in chunks.
CHUNK_STEP_FLOPS = 1.6e10
# Allocations up to this size come from (and return to) the heap instead of fresh mmaps.
MMAP_THRESHOLD = 1 << 30
TRIM_THRESHOLD = 1 << 30


def threads(flops_per_step: float, cores: int | None = None) -> int:
    """One thread for small steps, else one per CPU the job may use (refute.scaling.cpus: affinity, cgroup
    quota, SLURM; not the machine's load, so a run's numbers never depend on what else is running)."""
    cores = cores or cpus.allotted()
    return 1 if flops_per_step < ONE_THREAD_BELOW else cores


def seeds_per_chunk(flops_per_seed_step: float, n_seeds: int) -> int:
    return max(1, min(n_seeds, int(CHUNK_STEP_FLOPS // max(flops_per_seed_step, 1.0))))


def configure_allocator() -> bool:
    """Keep freed memory in the process (glibc only; elsewhere a no-op). Call before torch allocates.

    Same effect as MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ in the environment, but set by the
    job itself, so nobody has to know about it.
    """
    name = ctypes.util.find_library("c")
    if not name or os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return False
    try:
        libc = ctypes.CDLL(name)
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False


def configure_openmp() -> str:
    """Make OpenMP's idle threads sleep instead of spinning (unless the user chose otherwise); returns the policy.

    A spinning thread keeps its core busy while it waits for the others at the end of each parallel
    operation; beside a competing process one of them is descheduled and the rest spin, so a 2-thread
    job fell to a few percent of its idle speed. Passive waiting changes when threads run, never what they
    compute. OpenMP reads it once, when torch loads it: call before torch is imported.
    """
    return os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass(frozen=True)
class Tuning:
    threads: int
    seeds_per_chunk: int


def choose(bp: Blueprint, cores: int | None = None) -> Tuning:
    """Threads and seeds per chunk for training a run, from its blueprint: one seed's step FLOPs."""
    per_seed = bp.step_flops(1)
    chunk = seeds_per_chunk(per_seed, len(bp.seeds))
    return Tuning(threads(per_seed * chunk, cores), chunk)
