"""The hypothesis schema: what a YAML file in `hypotheses/` may say, with help beside every field.

The parts that name a component (task, model, optimizer, observables, reductions, prediction
kinds) are unions over the registries, built once on first use, so a new component module
extends the schema without touching this file.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, create_model, field_validator, model_validator

from refute.components.optimizers import Schedule
from refute.registry import MODELS, OBSERVABLES, OPTIMIZERS, PREDICTIONS, PROBES, REDUCTIONS, TASKS, Registry
from refute.spec.analysis import AnalysisPlan

SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_STEPS = 10_000_000
MAX_SEEDS = 10_000


class Strict(BaseModel):
    """Unknown keys are errors: a typo must never fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _name_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("name")
    return getattr(value, "name", None)


def _expand_shorthand(value: Any) -> Any:
    # `optimizer: adamw` is short for `optimizer: {name: adamw}`.
    return {"name": value} if isinstance(value, str) else value


def component_union(reg: Registry, flat: bool = False) -> Any:
    """A discriminated union with one member per registered component.

    `flat=False`: members look like `{name: ..., params: {...}}` (tasks, models, optimizers).
    `flat=True`: the parameters sit beside `name` (observables, reductions), which reads better
    for components with one or two parameters.
    """
    members = []
    for e in reg.entries():
        name_field = (Literal[e.name], Field(description=f"{reg.kind}: {e.help}"))
        if flat:
            member = create_model(f"{reg.kind.title().replace(' ', '')}_{e.name}", __base__=e.params, name=name_field)
        else:
            member = create_model(
                f"{reg.kind.title().replace(' ', '')}_{e.name}",
                __base__=Strict,
                name=name_field,
                params=(e.params, Field(default_factory=e.params, description=f"parameters of {reg.kind} {e.name!r}")),
            )
        members.append(Annotated[member, Tag(e.name)])
    if len(members) == 1:
        return members[0]
    return Annotated[Union[tuple(members)], Discriminator(_name_of)]


class Train(Strict):
    optimizer: Any = Field("adamw", description="optimizer: a name (adamw, adam, sgd) or {name, params}")
    lr: float = Field(gt=0, le=100, description="learning rate")
    weight_decay: float = Field(0.0, ge=0, description="decoupled weight decay (AdamW) or L2 coefficient (SGD)")
    steps: int = Field(gt=0, le=MAX_STEPS, description="number of optimizer steps")
    batch_size: int | Literal["full"] = Field(
        "full", description="examples per step for each seed, or 'full' for full-batch training"
    )
    eval_every: int = Field(gt=0, le=MAX_STEPS, description="log observables every this many steps (and at the end)")
    schedule: Schedule = Field(
        default_factory=lambda: {"name": "constant"}, validate_default=True,
        description="learning-rate schedule: constant, {name: warmup, warmup_steps}, "
        "or {name: cosine, warmup_steps, final_fraction}",
    )
    grad_clip: float | None = Field(
        None, gt=0, description="clip each seed's gradient to this global L2 norm (per seed; none by default)"
    )

    snapshots: list[Annotated[int, Field(ge=0, le=MAX_STEPS)]] = Field(
        default_factory=list,
        description="steps at which to keep the weights, for probes over training: a list of steps, or "
        "{every: n} for 0, n, 2n, ... up to the last step (the final weights are always kept)",
    )

    @field_validator("schedule", mode="before")
    @classmethod
    def _short_schedule(cls, v):
        return _expand_shorthand(v)

    @field_validator("batch_size")
    @classmethod
    def _positive_batch(cls, v):
        if isinstance(v, int) and v <= 0:
            raise ValueError("must be > 0 or 'full'")
        return v

    @model_validator(mode="before")
    @classmethod
    def _expand_every(cls, data):
        # `snapshots: {every: n}` becomes the explicit list, so both spellings hash the same.
        snaps = data.get("snapshots") if isinstance(data, dict) else None
        if isinstance(snaps, dict):
            every, steps = snaps.get("every"), data.get("steps")
            if set(snaps) != {"every"} or not isinstance(every, int) or isinstance(every, bool) or every < 1:
                raise ValueError("snapshots: write a list of steps, or {every: n} with a whole number n >= 1")
            if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
                raise ValueError("snapshots: {every: n} needs a valid train.steps")
            data = {**data, "snapshots": list(range(0, steps + 1, every))}
        return data

    @field_validator("snapshots")
    @classmethod
    def _sorted(cls, v):
        return sorted(set(v))

    @model_validator(mode="after")
    def _snapshots_within_budget(self):
        late = [s for s in self.snapshots if s > self.steps]
        if late:
            raise ValueError(f"snapshots {late} are after the last step ({self.steps})")
        return self


def _seeds(v: Any) -> Any:
    # `seeds: 5` means seeds 0..4; an explicit list is also accepted.
    if isinstance(v, int) and not isinstance(v, bool):
        if not 1 <= v <= MAX_SEEDS:
            raise ValueError(f"must be between 1 and {MAX_SEEDS}")
        return list(range(v))
    return v


SeedList = Annotated[
    list[Annotated[int, Field(ge=0, lt=2**31)]],
    Field(min_length=1, max_length=MAX_SEEDS, description="training seeds: a count n (seeds 0..n-1) or a list"),
]


@lru_cache(maxsize=None)
def run_spec_model() -> type[BaseModel]:
    """Everything that determines one condition's training runs (and so its run hash)."""

    class TrainSpec(Train):
        optimizer: component_union(OPTIMIZERS) = Field(  # type: ignore[valid-type]
            default_factory=lambda: {"name": "adamw"}, validate_default=True,
            description=Train.model_fields["optimizer"].description,
        )

        @field_validator("optimizer", mode="before")
        @classmethod
        def _short(cls, v):
            return _expand_shorthand(v)

    observable = component_union(OBSERVABLES, flat=True)

    class RunSpec(Strict):
        task: component_union(TASKS) = Field(description="the task: {name, params}")  # type: ignore[valid-type]
        model: component_union(MODELS) = Field(description="the model: {name, params}")  # type: ignore[valid-type]
        train: TrainSpec = Field(description="optimizer and training loop settings")
        seeds: SeedList
        observables: list[observable] = Field(  # type: ignore[valid-type]
            min_length=1, description="what to log during training: names or {name, every, ...}"
        )

        @field_validator("seeds", mode="before")
        @classmethod
        def _seed_count(cls, v):
            return _seeds(v)

        @field_validator("observables", mode="before")
        @classmethod
        def _short(cls, v):
            return [_expand_shorthand(o) for o in v] if isinstance(v, list) else v

        @field_validator("task", "model", mode="before")
        @classmethod
        def _short_component(cls, v):
            return _expand_shorthand(v)

    return RunSpec


class Compute(Strict):
    """Where and how a hypothesis's training jobs run. Not part of any run hash: a run's numbers
    are the same (to floating-point tolerance) on any device and under any seed split."""

    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="auto: a GPU when the job has one, else the CPU; cuda: request a GPU from the "
        "scheduler and fail without one; cpu: never use a GPU",
    )
    seeds_per_job: int | Literal["all"] = Field(
        "all",
        description="train at most this many seeds of a condition per job (merged afterwards), "
        "for seed batches that do not fit one device; 'all': one job per condition",
    )

    @field_validator("seeds_per_job")
    @classmethod
    def _positive_chunk(cls, v):
        if isinstance(v, int) and v <= 0:
            raise ValueError("must be > 0 or 'all'")
        return v


class Alternative(Strict):
    """A rival explanation of the same observations, and the evidence that would tell it apart."""

    id: str = Field(pattern=SLUG, description="a short slug naming the alternative explanation")
    explanation: str = Field(min_length=1, description="the rival explanation, in words")
    conditions: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description="the condition(s) (adversarial controls) that distinguish it; each must be "
        "used by one of its predictions"
    )
    predictions: list[Annotated[str, Field(pattern=SLUG)]] = Field(
        min_length=1, description="the id(s) of the predictions that distinguish it"
    )
    ruled_out_if: Literal["holds", "contradicted"] = Field(
        "holds", description="the alternative is ruled out when every one of its predictions has this outcome; "
        "it survives when any has the other decided outcome, and stays open while any is undecided"
    )


@lru_cache(maxsize=None)
def reduction_union() -> Any:
    return component_union(REDUCTIONS, flat=True)


@lru_cache(maxsize=None)
def probe_union() -> Any:
    """One probe: `{name: <probe>, ...params}` (or just the name)."""
    return Annotated[component_union(PROBES, flat=True), BeforeValidator(_expand_shorthand)]


@lru_cache(maxsize=None)
def hypothesis_model() -> type[BaseModel]:
    run_spec = run_spec_model()
    prediction = component_union_by_kind()

    fields: dict[str, Any] = {
        "id": (str, Field(pattern=SLUG, description="a short slug naming the hypothesis; results go to results/<id>/")),
        "title": (str, Field(min_length=1, description="one line naming the hypothesis")),
        "statement": (str, Field(min_length=1, description="the falsifiable claim, in words")),
        "conditions": (
            dict[Annotated[str, Field(pattern=SLUG)], dict[str, Any]],
            Field(
                default_factory=dict,
                description="named conditions, each a set of overrides of dotted fields, e.g. {train.weight_decay: 0}",
            ),
        ),
        "sweep": (
            dict[str, Annotated[list[Any], Field(min_length=1)]],
            Field(
                default_factory=dict,
                description="a grid: dotted field -> list of values; crossed with the conditions",
            ),
        ),
        "compute": (
            Compute,
            Field(default_factory=Compute, description="device and seeds per job; does not change results"),
        ),
        "probes": (
            list[probe_union()],  # type: ignore[valid-type]
            Field(
                default_factory=list,
                description="interpretability probes run on each condition's trained weights (final or "
                "snapshots); their outputs are metrics predictions can test, named <id>/<metric>@<site>",
            ),
        ),
        "refines": (
            str | None,
            Field(None, pattern=SLUG, description="the id of the parent hypothesis this one refines (more seeds, "
                  "a generalization, a boundary probe); the report shows what changed and how the verdict moved"),
        ),
        "alternatives": (
            list[Alternative],
            Field(default_factory=list, description="rival explanations, each with the conditions and predictions "
                  "that would rule it out; the report says which were ruled out and which survive"),
        ),
        "analysis": (
            AnalysisPlan,
            Field(default_factory=AnalysisPlan, description="how the predictions are judged together: "
                  "correction across predictions and the handling of failed runs"),
        ),
        "predictions": (
            list[prediction],  # type: ignore[valid-type]
            Field(min_length=1, description="pre-registered predictions, each decided by a statistical test"),
        ),
    }
    # A hypothesis is a run spec (the base condition) plus its claim, conditions and predictions.
    return create_model("Hypothesis", __base__=run_spec, **fields)


def component_union_by_kind() -> Any:
    members = [Annotated[e.params, Tag(e.name)] for e in PREDICTIONS.entries()]

    def kind_of(v: Any) -> str | None:
        return v.get("kind") if isinstance(v, dict) else getattr(v, "kind", None)

    if len(members) == 1:
        return members[0]
    return Annotated[Union[tuple(members)], Discriminator(kind_of)]
