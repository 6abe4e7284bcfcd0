"""Synthetic observations with a planted event (or none): the known answers the detectors are tested and
calibrated on (tests/test_events.py, benchmarks/discovery.py). Registers nothing.

Every table is a sweep of five values of `train.lr` (1, 2, 4, 8, 16), `seeds` seeds each, 40 evaluations
of two metrics over 400 steps: `a` (where events are planted) and `b` (always noise). Noise is Gaussian
with sd 1 on top of a smooth decay shared by every run (an event-free curve still moves, like a loss);
`effect` is the planted event's size in noise sds. A planted divergence boundary marks runs as diverged
(`Observations.failed`), as a run that reached a non-finite loss is marked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from refute.components.events import Observations

KINDS = ("none", "transition", "optimum", "split", "power_law", "boundary", "divergence")
XS = [1.0, 2.0, 4.0, 8.0, 16.0]
STEPS = np.arange(0, 400, 10)
REDUCTIONS = {"final": {"name": "final"}}


def planted(kind: str, effect: float, seeds: int, rng: np.random.Generator) -> Observations:
    """Observations with one event of `kind` planted in metric `a` at size `effect` ('none': pure noise)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    rows, failed = [], {}
    t = STEPS / STEPS[-1]
    for i, x in enumerate(XS):
        cond = f"lr={x:g}"
        for s in range(seeds):
            if kind == "divergence" and rng.uniform() >= 0.5 - min(effect, 4) / 8 * (1 if i > 2 else -1 if i < 2 else 0):
                failed.setdefault(cond, set()).add(s)  # diverges with probability ½ + effect/8 above the middle
            for metric in ("a", "b"):
                y = 3 * np.exp(-t / 0.1) + rng.standard_normal(len(t))
                if metric == "a":
                    y = y + _plant(kind, effect, i, s, seeds, t, rng)
                if kind == "power_law" and metric == "a":
                    # positive values: exp of a log-linear law with sd-1 noise in log units (per run offset)
                    y = np.exp(-effect / np.log(XS[-1] / XS[0]) * np.log(x) + rng.standard_normal()
                               + 0.01 * rng.standard_normal(len(t)))
                rows += [(cond, s, int(step), metric, float(v)) for step, v in zip(STEPS, y)]
    curves = pd.DataFrame(rows, columns=["condition", "seed", "step", "metric", "value"])
    coords = {f"lr={x:g}": {"train.lr": x} for x in XS}
    reductions = dict(REDUCTIONS)
    if kind == "boundary":
        reductions["max"] = {"name": "max"}
    return Observations.from_curves(curves, coords, reductions, {c: int(STEPS[-1]) for c in coords}, failed=failed)


def _plant(kind: str, effect: float, i: int, seed: int, seeds: int, t: np.ndarray, rng) -> np.ndarray:
    zero = np.zeros_like(t)
    if kind == "transition" and i == 2:
        at = 0.5 + 0.05 * rng.standard_normal()  # the step varies over seeds
        return np.where(t >= at, effect, 0.0)
    if kind == "optimum":
        # a per-run level (the final value carries it), best in the middle of the range
        return zero + effect * {0: 0.0, 1: 0.5, 2: 1.0, 3: 0.5, 4: 0.0}[i] + rng.standard_normal()
    if kind == "split" and i == 2:
        return zero + (effect if seed % 2 else 0.0)
    if kind == "boundary":
        # each run reaches a high plateau (max ≥ 10) with probability ½ + effect/8 below the middle, ½ − effect/8 above
        prob = 0.5 + min(effect, 4) / 8 * (1 if i < 2 else -1 if i > 2 else 0)
        return np.where(t > 0.5, 20.0, 0.0) if rng.uniform() < prob else zero
    return zero
