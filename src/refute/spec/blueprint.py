"""A run spec's blueprint: everything its size follows from, computed once from the spec alone (no torch).

The task's TaskInfo, the model's Architecture, and the counts a job is sized by: parameters, examples
and FLOPs per step, evaluation points, peak tensor memory. The model's constructor, its cost, job
sizing and the thread choice all read it; nothing builds a model to size a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from refute.components.models import MODELS, Architecture
from refute.components.models import architecture_of
from refute.components.tasks import TaskInfo, task_info
from refute.spec.hashing import run_hash

if TYPE_CHECKING:
    from refute.spec.schema import RunSpec


@dataclass(frozen=True)
class Blueprint:
    run_hash: str
    task: TaskInfo
    model: Architecture
    seeds: tuple[int, ...]
    steps: int
    examples_per_step: int  # per seed
    evals: int  # evaluation points the training loop logs
    snapshots: int  # weight snapshots kept during training

    @property
    def params_per_seed(self) -> int:
        return self.model.n_params

    def _n(self, seeds: int | None) -> int:
        return len(self.seeds) if seeds is None else seeds

    def step_flops(self, seeds: int | None = None) -> float:
        """FLOPs of one training step of `seeds` seeds (default: all), estimated from the parameter count
        (~6 per parameter per example): what threads and seed chunks are chosen by (refute.scaling.tuning)."""
        # ~6 FLOPs per parameter per example for forward and backward of dense layers (an over-estimate for
        # embedding tables, which are only gathered).
        return 6.0 * self.params_per_seed * self.examples_per_step * self._n(seeds)

    def train_flops(self, seeds: int | None = None) -> float:
        """Every training step, from the model's forward FLOPs: forward + backward ≈ 3 forward passes."""
        return 3.0 * self.model.flops_per_example * self.examples_per_step * self._n(seeds) * self.steps

    def eval_flops(self, seeds: int | None = None) -> float:
        """Every evaluation: one forward pass over the training and validation sets."""
        return self.model.flops_per_example * (self.task.n_train + self.task.n_val) * self._n(seeds) * self.evals

    def memory_bytes(self, seeds: int | None = None) -> float:
        """Peak tensor memory of training `seeds` seeds (fp32): weights, gradients and two optimizer moments,
        and the weight snapshots; then the larger of a training step (activations and their gradients for
        the batch) and an evaluation (the cached train and validation outputs plus one hidden layer in flight)."""
        S, m = self._n(seeds), self.model
        state = 4 * 4 * m.n_params * S
        kept = 4 * m.n_params * S * self.snapshots  # kept on the CPU until saved
        step = 4 * 2 * m.activations_per_example * self.examples_per_step * S
        evaluation = 4 * (self.task.out_dim + m.activations_per_example / 2) * (self.task.n_train + self.task.n_val) * S
        return state + kept + max(step, evaluation)


def examples_per_step(run: RunSpec, task: TaskInfo) -> int:
    """Examples per seed per step: the training set for full batch, else the minibatch (at most the
    training set, unless the task draws fresh examples)."""
    bs = run.train.batch_size
    if bs == "full":
        return task.n_train
    return int(bs) if task.online else min(int(bs), task.n_train)


def evaluation_points(run: RunSpec) -> int:
    """How many evaluation points the loop makes: every observable's period, plus the final step."""
    steps = run.train.steps
    periods = sorted({obs.every or run.train.eval_every for obs in run.observables})
    if len(periods) == 1 or steps // periods[0] > 1_000_000:
        return steps // periods[0] + 1 + (steps % periods[0] != 0)
    points = {steps}
    for every in periods:
        points.update(range(0, steps + 1, every))
    return len(points)


_BLUEPRINTS: dict[str, Blueprint] = {}


def blueprint(run: RunSpec) -> Blueprint:
    """The run's blueprint (memoised by run hash). Raises ValueError where the model cannot be laid out
    for the task (the loader reports it as a spec error)."""
    h = run_hash(run)
    if h not in _BLUEPRINTS:
        task = task_info(run.task)
        arch = architecture_of(run)
        _BLUEPRINTS[h] = Blueprint(h, task, arch, tuple(run.seeds), run.train.steps, examples_per_step(run, task),
                                   evaluation_points(run), len(run.train.snapshots or ()))
    return _BLUEPRINTS[h]
