"""What the statistics stage writes, typed: predictions.json and verdict.json as pydantic models, and the
one loader every later reader uses (both reports, the index, refine, lineage, status).

The loader always checks each file against the sha256 verdict.json recorded when it was written, so a
truncated or edited table stops a reader with the file's name instead of being shown. JSON has no inf or
nan: numbers that may be non-finite (`Num`) are written as the strings "inf", "-inf", "nan" and read back
as floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_serializer

from refute import io
from refute.components.predictions import Phrase, PredictionSpec
from refute.layout import OBSERVATIONS, PREDICTIONS, PROBE_TABLE, REDUCED, VERDICT, Layout
from refute.spec.plan import Plan, read_plan
from refute.spec.schema import Analysis as AnalysisPlan
from refute.spec.schema import Hypothesis


def _json_number(x: int | float) -> int | float | str:
    return x if math.isfinite(x) else str(float(x))


def _python_number(x: Any) -> Any:
    return int(x) if isinstance(x, np.integer) else x


# A number that may be inf or nan, written to JSON as a string a reader recognises. An int stays an int
# (numpy's too: a count in a test's `extra` is shown as written).
Num = Annotated[int | float, BeforeValidator(_python_number), PlainSerializer(_json_number, when_used="json")]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Counts(Record):
    """How many run values a prediction's test saw, and why it did not see the rest."""

    runs: int
    used: int
    failed: int
    no_value: int
    censored: int
    uncertified: int = Field(0, description="tested values that failed their estimator's health certificate "
                                            "(refute.stats.health)")


class PowerPlan(Record):
    """The seeds an undecided prediction would need (refute.components.predictions.power.plan)."""

    effect: Num
    basis: str
    n: int
    power_at_n: Num
    seeds_for_80: int | None
    alpha: Num
    method: str
    unit: str


class TestRecord(Record):
    """A prediction's test (refute.components.predictions.TestResult) and how it was judged among the
    hypothesis's predictions: the corrected p and the CI widened for their number."""

    __test__ = False  # not a pytest test class

    test: str
    statistic: Num
    p: Num
    estimate: Num
    ci: tuple[Num, Num]
    ci_level: float = 0.95
    effect: str
    n: dict[str, int]
    extra: dict[str, Num] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    p_adjusted: Num
    correction: Literal["holm", "bh", "none"]
    ci_judged: tuple[Num, Num]
    ci_judged_level: float
    counts: Counts
    power: PowerPlan | None = None


class OutcomeRecord(Record):
    status: Literal["holds", "contradicted", "inconclusive"]
    reason: str
    would_change: str


class PredictionRecord(Record):
    """One entry of predictions.json: the prediction as declared, the conditions it read, its test, its outcome."""

    id: str
    kind: str
    spec: PredictionSpec
    conditions: list[str] = Field(description="the conditions whose runs the prediction read (the kind says which)")
    result: TestRecord
    outcome: OutcomeRecord
    seen: list[str] = Field(default_factory=list, description="the runs it read whose data had been seen before "
                            "the plan was sealed, and why: a prediction with any is 'seen data', shown but not scored")

    def claim(self) -> list[Phrase]:
        return self.spec.claim()

    def measures(self) -> list[Phrase]:
        return self.spec.measures()


class AlternativeRecord(Record):
    """A rival explanation and whether its distinguishing predictions ruled it out (refute.stats.alternatives)."""

    id: str
    explanation: str
    conditions: list[str]
    predictions: dict[str, str]
    ruled_out_if: Literal["holds", "contradicted"]
    status: Literal["ruled out", "survives", "open"]
    why: str


class Registration(Record):
    """Whether the plan analysed is the one sealed before its runs were trained (refute.stats.preregistration)."""

    status: Literal["pre-registered", "post hoc"]
    registered_at: str = Field(description="when the plan was sealed")
    sha256: str
    current_sha256: str
    changed: list[str]
    seal: str = Field("", description="the seal file, beside the hypothesis file (refute.spec.seal)")
    seen: dict[str, str] = Field(default_factory=dict, description="run hash → why its data was seen before the seal")


class RunSummary(Record):
    hash: str
    seeds: list[int]
    steps: int
    wall_seconds: float | None = None
    device: str | None = None
    threads: int | None = None
    diverged: dict[str, int] | None = None


class ProbeSummary(Record):
    id: str
    name: str
    params: dict[str, Any]


class GitState(Record):
    """A folder's git commit and whether tracked files had uncommitted edits (refute.stats.code_version)."""

    folder: str
    commit: str = Field(description="the commit, or 'unknown' (no git, or not a repository)")
    dirty: Literal["yes", "no", "unknown"]


class Provenance(Record):
    hypothesis_file: str
    hypothesis_sha256: str
    packages: dict[str, str | None]
    code: dict[str, GitState] = Field(default_factory=dict, description="git state of the refute package and the "
                                      "hypotheses folder")
    python: str
    platform: str
    devices: list[str]
    training_wall_seconds: float
    analysed_at: str


class RoundRecord(Record):
    """One round of a sequential hypothesis: its fresh seeds and runs, and each prediction's look after it."""

    round: int
    seeds: dict[str, list[int]] = Field(description="condition → the seeds first trained in this round")
    runs: dict[str, str] = Field(description="condition → the round's run hash")
    e_holds: dict[str, Num] = Field(description="prediction → e-value against the claim's failure, on every run so far")
    e_contradicts: dict[str, Num] = Field(description="prediction → e-value against the claim, on every run so far")
    status: dict[str, str] = Field(description="prediction → its status at this look (decided ones stay decided)")


class SequentialRecord(Record):
    """How a sequential hypothesis gathered its seeds (refute.stats.sequential)."""

    seeds_per_round: int
    max_seeds: int
    rounds_planned: int
    rounds: list[RoundRecord] = Field(description="the rounds analysed, in order; the last is where it stopped")
    stopped: str = Field(description="why no further round was trained")
    test: str


class VerdictRecord(Record):
    """verdict.json: the verdict, why, and everything a report or a later hypothesis needs to know about it.
    Written last by the statistics stage: its `sha256` marks the other files complete."""

    id: str
    title: str
    statement: str
    verdict: Literal["SUPPORTED", "REFUTED", "INCONCLUSIVE", "INVALID"]
    post_hoc: bool
    reasons: list[str]
    predictions: dict[str, str] = Field(description="prediction id → outcome status")
    analysis: AnalysisPlan
    alternatives: list[AlternativeRecord]
    refines: str | None
    spec: Hypothesis
    failures: list[str]
    preregistration: Registration
    power: dict[str, PowerPlan] = Field(description="the power plan of each undecided prediction that has one")
    runs: dict[str, RunSummary]
    probes: list[ProbeSummary]
    provenance: Provenance
    plan: str = Field(description="the digest of the plan file analysed (refute.layout.Layout.plan_file)")
    sequential: SequentialRecord | None = Field(None, description="the rounds of a sequential hypothesis")
    sha256: dict[str, str] = Field(default_factory=dict, description="file name → sha256 of the other outputs")

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        data = handler(self)
        if data.get("sequential", "") is None:  # left out for hypotheses that are not sequential
            data.pop("sequential")
        return data


@dataclass(frozen=True)
class Decision:
    """A hypothesis's verdict and predictions, every output of its statistics checked."""

    verdict: VerdictRecord
    predictions: list[PredictionRecord]

    def plan(self, results: str | Path) -> Plan:
        """The plan the verdict was decided on."""
        return read_plan(Layout(results).plan_file(self.verdict.plan))


@dataclass(frozen=True)
class Analysis(Decision):
    """A Decision and the tables it was decided from."""

    observations: pd.DataFrame
    reduced: pd.DataFrame
    probes: pd.DataFrame


def analysed(results: str | Path, hyp_id: str) -> bool:
    """Whether the statistics stage has finished for `hyp_id` (verdict.json is written last)."""
    return Layout(results).hypothesis_file(hyp_id, VERDICT).exists()


def read(results: str | Path, hyp_id: str) -> Decision:
    """The verdict and predictions of `hyp_id`, after checking every file verdict.json lists."""
    verdict, _ = _verified(results, hyp_id)
    preds = io.read_json(Layout(results).hypothesis_file(hyp_id, PREDICTIONS))
    return Decision(verdict, [PredictionRecord.model_validate(p) for p in preds])


def load(results: str | Path, hyp_id: str) -> Analysis:
    """`read`, with the observations, reduced values and probe tables."""
    d = read(results, hyp_id)
    layout = Layout(results)
    table = lambda name: pd.read_parquet(layout.hypothesis_file(hyp_id, name))
    return Analysis(d.verdict, d.predictions, table(OBSERVATIONS), table(REDUCED), table(PROBE_TABLE))


def _verified(results: str | Path, hyp_id: str) -> tuple[VerdictRecord, dict]:
    path = Layout(results).hypothesis_file(hyp_id, VERDICT)
    raw = io.read_json(path)
    for name in raw.get("sha256", {}):
        io.verify(path.parent / name, raw, path)
    return VerdictRecord.model_validate(raw), raw


def write(out_dir: Path, verdict: VerdictRecord, predictions: list[PredictionRecord]) -> None:
    """predictions.json, then verdict.json with the checksums of every table already written beside it."""
    io.write_json(out_dir / PREDICTIONS, [p.model_dump(mode="json") for p in predictions])
    sums = io.checksums(out_dir, [OBSERVATIONS, PROBE_TABLE, REDUCED, PREDICTIONS])
    io.write_json(out_dir / VERDICT, verdict.model_copy(update={"sha256": sums}).model_dump(mode="json"))
