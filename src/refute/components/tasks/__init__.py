"""The task contract: the data a task hands to a model and a trainer, and what it looks like before it is built."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal

from refute.registry import ComponentError, ComponentRef, Params, Registry

if TYPE_CHECKING:
    from refute.spec.schema import RunSpec
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
    online: bool = False  # training batches are drawn fresh each step (a minibatch may exceed n_train)

    @classmethod
    def of(cls, data: TaskData) -> TaskInfo:
        return cls(len(data.x_train), len(data.x_val), data.inputs, data.in_dim, data.out_dim, data.objective,
                   data.vocab_size, data.seq_len, data.image_shape, data.online)


INPUT_KINDS = ("tokens", "dense", "sequence", "image")


class Task(ABC):
    """A task: the input kinds its data offers (an image is also dense), what its data looks like from
    its parameters alone (`info`, no torch), and the data itself (`build`). `info(p)` must equal
    `TaskInfo.of(build(p))` (tested for every task)."""

    provides: ClassVar[frozenset[str]]

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        kinds = getattr(cls, "provides", None)
        if kinds is not None and not set(kinds) <= set(INPUT_KINDS):
            raise TypeError(f"{cls.__qualname__}.provides: unknown input kinds "
                            f"{sorted(set(kinds) - set(INPUT_KINDS))}; known: {', '.join(INPUT_KINDS)}")

    @abstractmethod
    def info(self, p: Params) -> TaskInfo: ...

    @abstractmethod
    def build(self, p: Params) -> TaskData: ...


TASKS: Registry[Task] = Registry("task", __name__, contract=Task)


class TaskRef(ComponentRef):
    """`task:` in a run spec: {name, params} (or just the name)."""

    registry: ClassVar[Registry] = TASKS


def build_task(task: TaskRef) -> TaskData:
    """A run spec's task data."""
    return built(task.name, task.params)


def built(name: str, params: Params) -> TaskData:
    """Task `name`'s data, checked against its contract at this first use: a TaskData that looks like its
    info() says (a user task that does not is named by file and line, before anything trains on it)."""
    entry = TASKS.get(name)
    data = entry.impl.build(params)
    if not isinstance(data, TaskData):
        raise ComponentError(f"{entry.source}: task {name!r}: build() returned {type(data).__name__}; "
                             "the contract is a TaskData")
    said, got = entry.impl.info(params), TaskInfo.of(data)
    if said != got:
        diff = ", ".join(f"{f} {getattr(said, f)!r} (data: {getattr(got, f)!r})"
                         for f in TaskInfo.__dataclass_fields__ if getattr(said, f) != getattr(got, f))
        raise ComponentError(f"{entry.source}: task {name!r}: build() gives data unlike what info() says: {diff}")
    return data


def task_info(task: TaskRef) -> TaskInfo:
    """A task spec's TaskInfo, from its parameters alone (cached)."""
    return _task_info(json.dumps(task.model_dump(mode="json"), sort_keys=True))


@lru_cache(maxsize=64)
def _task_info(task_json: str) -> TaskInfo:
    task = json.loads(task_json)
    entry = TASKS.get(task["name"])
    info = entry.impl.info(entry.params.model_validate(task["params"]))
    if not isinstance(info, TaskInfo):
        raise ComponentError(f"{entry.source}: task {task['name']!r}: info() returned {type(info).__name__}; "
                             "the contract is a TaskInfo")
    return info


def sized_split(n_total: int, n_train: int, n_val: int, seed: int):
    """Random disjoint train/validation index sets of the given sizes, fixed by `seed`."""
    import torch

    if n_train + n_val > n_total:
        raise ValueError(f"n_train + n_val = {n_train + n_val} exceeds the {n_total} examples available")
    order = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))
    return order[:n_train], order[n_train:n_train + n_val]


def compatibility(run: RunSpec) -> str | None:
    """Why the run's model cannot read its task's inputs, or None."""
    from refute.components.models import MODELS

    offered = TASKS.get(run.task.name).impl.provides
    wanted = MODELS.get(run.model.name).impl.reads
    if offered & wanted:
        return None
    return (f"model {run.model.name!r} reads {', '.join(sorted(wanted))} inputs; task {run.task.name!r} gives "
            f"{', '.join(sorted(offered))}")
