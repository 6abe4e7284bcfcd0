"""The hypothesis schema: what a YAML file in `hypotheses/` may say, with help beside every field.

`RunSpec` is everything that determines one condition's training runs (and so its run hash);
`Hypothesis` is a run spec (the base condition) plus the claim, its conditions and its predictions.
Both are plain module-level classes. The fields that name a component (task, model, optimizer,
observables, probes, reductions, prediction kinds) are references checked against the registries
when a file is validated (see refute.registry), so a new component module extends the vocabulary
without touching this file.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_serializer, model_validator

from refute.components.models import ModelRef
from refute.components.observables import ObservableSpec
from refute.components.optimizers import OptimizerRef, Schedule
from refute.components.predictions import PredictionSpec
from refute.components.probes import ProbeSpec
from refute.components.tasks import TaskRef
from refute.registry import SLUG, Params

MAX_STEPS = 10_000_000
MAX_SEEDS = 10_000
# Bounds that keep one file from exhausting the machine before anything runs (each is far above what a
# study needs): concrete conditions per hypothesis, weight snapshots per run, logged evaluations per run.
MAX_CONDITIONS = 1_000
MAX_SNAPSHOTS = 1_000
MAX_EVALUATIONS = 1_000_000


def _expand_shorthand(value: Any) -> Any:
    # `schedule: cosine` is short for `schedule: {name: cosine}`.
    return {"name": value} if isinstance(value, str) else value


class Train(Params):
    optimizer: OptimizerRef = Field({"name": "adamw"}, validate_default=True,
                                    description="optimizer: a name (adamw, adam, sgd) or {name, params}")
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
            if steps // every + 1 > MAX_SNAPSHOTS:
                raise ValueError(f"snapshots: every {every} of {steps:,} steps keeps {steps // every + 1:,} copies of the "
                                 f"weights; at most {MAX_SNAPSHOTS:,} per run (keep fewer, e.g. every "
                                 f"{-(-steps // (MAX_SNAPSHOTS - 1))})")
            data = {**data, "snapshots": list(range(0, steps + 1, every))}
        return data

    @field_validator("snapshots")
    @classmethod
    def _sorted(cls, v):
        if len(set(v)) > MAX_SNAPSHOTS:
            raise ValueError(f"{len(set(v)):,} snapshots; at most {MAX_SNAPSHOTS:,} per run")
        return sorted(set(v))

    @model_validator(mode="after")
    def _snapshots_within_budget(self):
        late = [s for s in self.snapshots if s > self.steps]
        if late:
            raise ValueError(f"snapshots {late} are after the last step ({self.steps})")
        return self


def _seeds(v: Any) -> Any:
    # `seeds: 5` means seeds 0..4; an explicit list is also accepted, each seed once.
    if isinstance(v, int) and not isinstance(v, bool):
        if not 1 <= v <= MAX_SEEDS:
            raise ValueError(f"must be between 1 and {MAX_SEEDS}")
        return list(range(v))
    if isinstance(v, list):
        seen = [s for i, s in enumerate(v) if s in v[:i]]
        if seen:
            raise ValueError(f"seed(s) {sorted(set(seen), key=str)} listed more than once; each seed is one run")
    return v


SeedList = Annotated[
    list[Annotated[int, Field(ge=0, lt=2**31)]],
    Field(min_length=1, max_length=MAX_SEEDS, description="training seeds: a count n (seeds 0..n-1) or a list"),
]


class RunSpec(Params):
    """Everything that determines one condition's training runs (and so its run hash)."""

    task: TaskRef = Field(description="the task: {name, params}")
    model: ModelRef = Field(description="the model: {name, params}")
    train: Train = Field(description="optimizer and training loop settings")
    seeds: SeedList
    observables: list[ObservableSpec] = Field(
        min_length=1, description="what to log during training: names or {name, every, ...}"
    )

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_count(cls, v):
        return _seeds(v)

    @model_validator(mode="after")
    def _evaluations_within_bounds(self):
        for obs in self.observables:
            every = obs.every or self.train.eval_every
            if self.train.steps // every + 1 > MAX_EVALUATIONS:
                raise ValueError(f"observable {obs.name!r} would log {self.train.steps // every + 1:,} evaluations "
                                 f"({self.train.steps:,} steps, every {every}); at most {MAX_EVALUATIONS:,} per run: "
                                 "log less often (train.eval_every, or the observable's own every)")
        return self


class Compute(Params):
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


class Alternative(Params):
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


class Analysis(Params):
    """How the predictions are judged together (`analysis:`; part of the pre-registration)."""

    correction: Literal["holm", "bh", "none"] = Field(
        "holm",
        description="correction of p across the hypothesis's predictions: holm (family-wise error, the default), "
        "bh (Benjamini–Hochberg false discovery rate) or none",
    )
    failed_runs: Literal["invalid", "against"] = Field(
        "invalid",
        description="a diverged run (non-finite loss) makes the verdict INVALID (invalid, the default), or counts "
        "against the predictions that read it as their least favourable outcome (against; needs a rank or count test)",
    )


class Sequential(Params):
    """Rounds of fresh seeds until every prediction is decided (`sequential:`; refute.stats.sequential)."""

    seeds_per_round: int = Field(
        gt=0, le=MAX_SEEDS, description="fresh seeds each round after the first (the first round is `seeds`); every "
        "condition's round r continues its own seeds past the largest of round r − 1, so no seed is reused")
    max_seeds: int = Field(
        gt=0, le=MAX_SEEDS, description="the seed budget per condition, the first round's included: rounds stop "
        "here if some prediction is still undecided. The whole plan (every round's seeds) is sealed up front; "
        "predictions are tested by anytime-valid e-values (threshold and compare with test t, welch or paired_t)")


class Hypothesis(RunSpec):
    """A hypothesis file: a run spec (the base condition), the claim, its conditions and predictions."""

    id: str = Field(pattern=SLUG, description="a short slug naming the hypothesis; results go to results/<id>/")
    title: str = Field(min_length=1, description="one line naming the hypothesis")
    statement: str = Field(min_length=1, description="the falsifiable claim, in words")
    conditions: dict[Annotated[str, Field(pattern=SLUG)], dict[str, Any]] = Field(
        default_factory=dict,
        description="named conditions, each a set of overrides of dotted fields, e.g. {train.weight_decay: 0}",
    )
    sweep: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(
        default_factory=dict, description="a grid: dotted field -> list of values; crossed with the conditions",
    )
    compute: Compute = Field(default_factory=Compute, description="device and seeds per job; does not change results")
    probes: list[ProbeSpec] = Field(
        default_factory=list,
        description="interpretability probes run on each condition's trained weights (final or snapshots); their "
        "outputs are metrics predictions can test, named <id>/<metric>@<site>",
    )
    refines: str | None = Field(
        None, pattern=SLUG, description="the id of the parent hypothesis this one refines (more seeds, a "
        "generalization, a boundary probe); the report shows what changed and how the verdict moved",
    )
    exploration: str | None = Field(
        None, pattern=SLUG, description="the exploration (explorations/<id>.yaml) this hypothesis was drafted from by "
        "`refute discover`: its parent in the lineage; the exploration's runs are never evidence for it",
    )
    alternatives: list[Alternative] = Field(
        default_factory=list, description="rival explanations, each with the conditions and predictions that would "
        "rule it out; the report says which were ruled out and which survive",
    )
    analysis: Analysis = Field(
        default_factory=Analysis, description="how the predictions are judged together: correction across "
        "predictions and the handling of failed runs",
    )
    predictions: list[PredictionSpec] = Field(
        min_length=1, description="pre-registered predictions, each decided by a statistical test"
    )
    sequential: Sequential | None = Field(
        None, description="gather seeds in rounds until every prediction is decided or the seed budget is spent: "
        "{seeds_per_round, max_seeds}; each round's runs are ordinary runs, decided by anytime-valid e-values",
    )

    @field_validator("sweep")
    @classmethod
    def _distinct_values(cls, v: dict[str, list]) -> dict[str, list]:
        for path, values in v.items():
            repeated = [x for i, x in enumerate(values) if x in values[:i]]
            if repeated:
                raise ValueError(f"{path}: value(s) {repeated} listed more than once; each value is one condition")
        return v

    @model_serializer(mode="wrap")
    def _dump(self, handler, info):
        data = handler(self)
        # Left out when unset, so hypotheses not drafted from an exploration keep their plan digests.
        if data.get("exploration", "") is None:
            data.pop("exploration")
        if data.get("sequential", "") is None:  # likewise for hypotheses that are not sequential
            data.pop("sequential")
        return data

    def run_spec(self) -> dict:
        """The base condition's run fields, as data (conditions override dotted paths of it)."""
        return self.model_dump(mode="json", include=set(RunSpec.model_fields))


RUN_FIELDS = tuple(RunSpec.model_fields)
