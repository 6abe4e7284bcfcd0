"""Cost of one sharpness evaluation against one training step, on the edge-of-stability setup.

    .venv/bin/python benchmarks/sharpness_cost.py [--seeds 8] [--iters 20] [--repeats 5] [--out FILE]

Times (median of `repeats`, one thread) one full-batch gradient-descent step and one sharpness
evaluation (a gradient with its graph, then `iters` Hessian-vector products, Lanczos), for the
model and data of hypotheses/edge-of-stability.yaml, and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from refute.components import objectives
from refute.components import optimizers
from refute.components.observables import EvalContext
from refute.components.observables.sharpness import Sharpness, SharpnessParams
from refute.spec.loader import load_hypothesis
from refute.components.models import build_model
from refute.components.tasks import build_task
from refute.spec.blueprint import blueprint

ROOT = Path(__file__).resolve().parents[1]


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "sharpness_cost.json"))
    a = ap.parse_args()
    torch.set_num_threads(1)

    run = next(iter(load_hypothesis(ROOT / "hypotheses" / "edge-of-stability.yaml").conditions.values()))
    seeds = list(range(a.seeds))
    data = build_task(run.task)
    model = build_model(run, data, seeds)
    opt = optimizers.build(run.train, model, blueprint(run).model)
    y = objectives.shared(data.y_train, len(seeds))

    def train_step():
        loss = objectives.loss(model(data.x_train), y, data.objective)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()

    p = SharpnessParams(iters=a.iters)

    def sharpness():
        Sharpness().compute(p, EvalContext(model, data, 0, run.train.lr, seeds))

    step = median_seconds(train_step, a.repeats)
    sharp = median_seconds(sharpness, a.repeats)
    n_params = sum(q[0].numel() for q in model.parameters())
    figures = {
        "setup": f"{run.model.name} {run.model.params.model_dump()}, {len(data.x_train)} examples, {a.seeds} seeds, "
                 f"{n_params} parameters per seed, 1 thread",
        "hvp_per_evaluation": a.iters,
        "train_step_seconds": round(step, 5),
        "sharpness_evaluation_seconds": round(sharp, 5),
        "sharpness_in_train_steps": round(sharp / step, 1),
        "seconds_per_hvp": round(sharp / a.iters, 5),
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
