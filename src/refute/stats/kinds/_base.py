"""What every prediction states, whatever its kind, and what every test returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator

from refute.registry import Params
from refute.spec.schema import SLUG, reduction_union


class Prediction(Params):
    id: str = Field(pattern=SLUG, description="a short slug naming the prediction")
    kind: str = Field(description="the kind of claim, which fixes the test family")
    description: str = Field("", description="the prediction in words")
    metric: str = Field(description="the logged metric to test, e.g. val_acc")
    reduce: reduction_union() = Field(  # type: ignore[valid-type]
        description="how each run's time series becomes one number: a name or {name, ...params}"
    )
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level")
    direction: Literal["greater", "less", "two-sided"] = Field(
        description="the predicted sign of the effect (see the kind for what the effect is)"
    )
    min_effect: float = Field(
        0.0,
        ge=0,
        description="smallest effect of interest, in the units of the effect; an effect credibly smaller "
        "than this refutes the prediction",
    )

    prior: float | None = Field(
        None, ge=0, le=1,
        description="the probability you give, before training, that this prediction holds; scored (Brier) on "
        "the agenda index once the prediction is decided",
    )

    @field_validator("reduce", mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v

    def conditions_used(self) -> list[str]:
        raise NotImplementedError


@dataclass
class TestResult:
    test: str
    statistic: float
    p: float
    estimate: float
    ci: tuple[float, float]
    effect: str
    n: dict[str, int]
    extra: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)
