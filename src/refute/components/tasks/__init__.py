"""The data a task hands to a model and a trainer, and what it looks like before it is built."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal

from refute.registry import ComponentRef, Registry

TASKS: Registry = Registry("task", __name__)


class TaskRef(ComponentRef):
    """`task:` in a run spec: {name, params} (or just the name)."""

    registry: ClassVar[Registry] = TASKS


if TYPE_CHECKING:
    import torch

# Draw `n` fresh examples (x, y) from a task's distribution with the given generator.
Sampler = Callable[["torch.Generator", int], tuple["torch.Tensor", "torch.Tensor"]]


@dataclass
class TaskData:
    """A fixed train/validation split, shared by every seed of a run.

    `inputs` says how a model should read `x`: integer tokens (`x` is [N, seq_len] with values in
    [0, vocab_size)), dense features (`x` is [N, in_dim]), or a sequence of dense vectors (`x` is
    [N, seq_len, in_dim]). Sequence models predict from the last position.

    A task with a generative distribution may offer `sample`; with `online` set the trainer draws
    every step's batch fresh from it (each seed from its own generator) instead of from `x_train`,
    which then only serves to measure training metrics.
    """

    x_train: "torch.Tensor"
    y_train: "torch.Tensor"
    x_val: "torch.Tensor"
    y_val: "torch.Tensor"
    inputs: Literal["tokens", "dense", "sequence"]
    in_dim: int  # sequence length for tokens, feature count for dense inputs and per position of a sequence
    out_dim: int  # classes for classification, outputs for regression
    objective: Literal["classification", "regression"]
    vocab_size: int = 0
    seq_len: int = 0  # positions of a sequence of dense vectors
    image_shape: tuple[int, int, int] | None = None  # (channels, height, width) where dense x is a flattened image
    sample: Sampler | None = None
    online: bool = False
    info: dict[str, Any] = field(default_factory=dict)  # task facts an observable may need (e.g. teacher modes)


@dataclass(frozen=True)
class TaskInfo:
    """What a task's data looks like, known from its parameters alone (the fields of TaskData that
    are not tensors, and the set sizes): checking a hypothesis and sizing its jobs read this
    instead of building the data, so neither imports torch."""

    n_train: int
    n_val: int
    inputs: Literal["tokens", "dense", "sequence"]
    in_dim: int
    out_dim: int
    objective: Literal["classification", "regression"]
    vocab_size: int = 0
    seq_len: int = 0
    image_shape: tuple[int, int, int] | None = None

    @classmethod
    def of(cls, data: TaskData) -> TaskInfo:
        return cls(len(data.x_train), len(data.x_val), data.inputs, data.in_dim, data.out_dim, data.objective,
                   data.vocab_size, data.seq_len, data.image_shape)


def describes(info: Callable[[Any], TaskInfo]):
    """Declare on a task's builder the function that gives its TaskInfo from its parameters."""

    def deco(fn):
        fn.info = info
        return fn

    return deco


def task_info(task) -> TaskInfo:
    """A task spec's TaskInfo: from its declared `info`, else by building its data (torch)."""
    return _task_info(json.dumps(task.model_dump(mode="json"), sort_keys=True))


@lru_cache(maxsize=64)
def _task_info(task_json: str) -> TaskInfo:


    task = json.loads(task_json)
    entry = TASKS.get(task["name"])
    params = entry.params.model_validate(task["params"])
    info = getattr(entry.impl, "info", None)
    return info(params) if info else TaskInfo.of(entry.impl(params))


def sized_split(n_total: int, n_train: int, n_val: int, seed: int):
    """Random disjoint train/validation index sets of the given sizes, fixed by `seed`."""
    import torch

    if n_train + n_val > n_total:
        raise ValueError(f"n_train + n_val = {n_train + n_val} exceeds the {n_total} examples available")
    order = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))
    return order[:n_train], order[n_train:n_train + n_val]


INPUT_KINDS = ("tokens", "dense", "sequence", "image")


def provides(*kinds: str):
    """Declare on a task's builder which input kinds its data offers (an image is also dense), so a
    model that cannot read them is refused when the spec is checked, before anything runs."""
    assert set(kinds) <= set(INPUT_KINDS), kinds

    def deco(fn):
        fn.provides = frozenset(kinds)
        return fn

    return deco


def reads(*kinds: str):
    """Declare on a model's builder which input kinds it can read."""
    assert set(kinds) <= set(INPUT_KINDS), kinds

    def deco(fn):
        fn.reads = frozenset(kinds)
        return fn

    return deco


def compatibility(run) -> str | None:
    """Why the run's model cannot read its task's inputs, or None."""
    from refute.components.models import MODELS

    offered = getattr(TASKS.get(run.task.name).impl, "provides", None)
    wanted = getattr(MODELS.get(run.model.name).impl, "reads", None)
    if offered is None or wanted is None or offered & wanted:
        return None
    return (f"model {run.model.name!r} reads {', '.join(sorted(wanted))} inputs; task {run.task.name!r} gives "
            f"{', '.join(sorted(offered))}")
