"""Explorations: the "form" step. A file in `explorations/` is a hypothesis without a claim: a run spec (the
base condition), named conditions and a sweep, observables and probes, and what to look at (`look:`); no
predictions. Its runs are ordinary runs, stored by hash and shared with hypotheses that train the same
thing. The observation stage reads every metric, reduces each run, and asks each event detector
(refute.components.events) what changed; `refute discover <id>` drafts a hypothesis per event.

Validation is the hypothesis loader's: the same condition expansion, probe checks and file:line: field
errors.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator

from refute.components.events import EVENTS, EventSpec
from refute.components.probes import ProbeSpec
from refute.components.reductions import Reduction
from refute.registry import SLUG, Params
from refute.spec.errors import LineMap, SpecError, SpecIssue, dotted
from refute.spec.hashing import run_hash
from refute.spec.loader import _expand_conditions, _issues, condition_grid, file_name_issue, hypothesis_files, metrics_of
from refute.spec.plan import ProbeJob
from refute.spec.probes import probe_issues, probe_jobs, probe_metrics
from refute.spec.schema import Compute, Hypothesis, RunSpec
from refute.spec.yamlfile import read_yaml


def _every_detector() -> list:
    return [{"name": n} for n in EVENTS.names()]


class Look(Params):
    """What the observation stage examines, and how strictly (`look:`)."""

    metrics: list[str] | None = Field(None, description="metrics to examine (default: every logged or probed metric)")
    reductions: list[Reduction] = Field(
        default_factory=lambda: [{"name": "final"}], validate_default=True, min_length=1,
        description="how each run's curve becomes one number for the detectors that compare runs: names or "
        "{name, ...params}, as a prediction's reduce:")
    events: list[EventSpec] = Field(
        default_factory=_every_detector, validate_default=True,
        description="the event detectors to run: names or {name, ...params} (default: every registered one)")
    alpha: float = Field(0.05, gt=0, lt=1, description="the chance that an exploration of pure noise reports any "
                         "event: p-values are corrected (Holm) across every candidate event")


class Exploration(RunSpec):
    """An exploration file: a run spec (the base condition), its conditions and sweep, and what to look at."""

    id: str = Field(pattern=SLUG, description="a short slug naming the exploration; results go to "
                    "results/explorations/<id>/")
    title: str = Field(min_length=1, description="one line naming the exploration")
    question: str = Field(min_length=1, description="what is being explored, in words")
    # conditions, sweep and probes: the language of a hypothesis, with its help.
    conditions: dict[Annotated[str, Field(pattern=SLUG)], dict[str, Any]] = Field(
        default_factory=dict, description=Hypothesis.model_fields["conditions"].description)
    sweep: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(
        default_factory=dict, description=Hypothesis.model_fields["sweep"].description)
    compute: Compute = Field(default_factory=Compute, description="device and seeds per job; does not change results")
    probes: list[ProbeSpec] = Field(default_factory=list, description=Hypothesis.model_fields["probes"].description)
    look: Look = Field(default_factory=Look, description="metrics, reductions and event detectors to apply")

    @field_validator("sweep")
    @classmethod
    def _distinct_values(cls, v: dict[str, list]) -> dict[str, list]:
        return Hypothesis._distinct_values(v)


class ExplorationPlan(Params):
    """A validated exploration and what follows from it (the exploration's counterpart of refute.spec.plan.Plan)."""

    exploration: Exploration
    file: str
    file_sha256: str
    source: dict[str, Any] = Field(description="the file's data as written (drafts start from it)")
    conditions: dict[str, RunSpec]
    runs: dict[str, str] = Field(description="condition -> run hash")
    probe_jobs: list[ProbeJob] = Field(default_factory=list)
    coords: dict[str, dict[str, Any]] = Field(description="condition -> {swept dotted field: value}")
    named: dict[str, str] = Field(description="condition -> its named condition ('' when there is none)")
    overrides: dict[str, dict[str, Any]] = Field(description="condition -> every dotted field it sets")

    @property
    def id(self) -> str:
        return self.exploration.id

    def digest(self) -> str:
        import json

        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_exploration(path: str | Path) -> ExplorationPlan:
    """Validate one exploration file (every problem at once, as a SpecError) and plan it."""
    path = Path(path)
    data, lines, text = read_yaml(path)
    return plan_exploration(data, str(path), lines, hashlib.sha256(text.encode()).hexdigest())


def plan_exploration(data: dict, file: str, lines: LineMap | None = None, sha256: str = "") -> ExplorationPlan:
    lines = lines or LineMap("")
    try:
        spec = Exploration.model_validate(data)
    except ValidationError as err:
        raise SpecError(_issues(err, data, lines, file, Exploration, "an exploration")) from None
    conditions, issues = _expand_conditions(spec, data, lines, file)
    if not conditions and issues:
        raise SpecError(issues)
    issues += probe_issues(spec, conditions, lines, file)
    issues += _check_look(spec, conditions, lines, file)
    if issues:
        raise SpecError(issues)
    runs = {c: run_hash(r) for c, r in conditions.items()}
    sweep = {p: v for p, v in spec.sweep.items()}
    coords, named, overrides = {}, {}, {}
    for name, cname, swept in condition_grid(spec.conditions, sweep):
        coords[name], named[name] = swept, cname
        overrides[name] = {**spec.conditions.get(cname, {}), **swept}
    return ExplorationPlan(exploration=spec, file=file, file_sha256=sha256, source=data, conditions=conditions,
                           runs=runs, probe_jobs=probe_jobs(spec, conditions, runs), coords=coords, named=named,
                           overrides=overrides)


def _check_look(spec: Exploration, conditions: dict[str, RunSpec | None], lines: LineMap, file: str) -> list[SpecIssue]:
    """Each metric named under look: is logged or probed in some condition."""
    logged: set[str] = set()
    for c, run in conditions.items():
        if run is not None:
            logged |= set(metrics_of(run)) | set(probe_metrics(spec, c, run))
    issues = []
    for i, m in enumerate(spec.look.metrics or []):
        if m not in logged:
            issues.append(SpecIssue(file, lines.line(["look", "metrics", i]), f"look.metrics.{i}",
                                    f"metric {m!r} is never logged or probed; available: {', '.join(sorted(logged))}"))
    for i, det in enumerate(spec.look.events):
        for j, reach in enumerate(getattr(det, "reach", []) or []):
            labels = [reduction_label(r) for r in spec.look.reductions]
            if reach.metric not in logged:
                issues.append(SpecIssue(file, lines.line(["look", "events", i, "reach", j]),
                                        f"look.events.{i}.reach.{j}.metric", f"metric {reach.metric!r} is never logged"))
            if reach.reduce not in labels:
                issues.append(SpecIssue(file, lines.line(["look", "events", i, "reach", j]),
                                        f"look.events.{i}.reach.{j}.reduce",
                                        f"reduction {reach.reduce!r} is not in look.reductions ({', '.join(labels)})"))
    return issues


def reduction_label(spec: Any) -> str:
    """The name a reduction goes by in tables and events: its name, with its parameters when it has any."""
    data = spec.model_dump(mode="json", exclude_defaults=True) if isinstance(spec, Params) else dict(spec)
    name = data.pop("name", getattr(spec, "name", "?"))
    return name if not data else f"{name}(" + ",".join(f"{k}={v}" for k, v in sorted(data.items())) + ")"


def load_explorations(directory: str | Path = "explorations") -> list[ExplorationPlan]:
    """Every exploration file of a folder (none when it does not exist); one SpecError listing all problems."""
    plans, issues = [], []
    if not Path(directory).is_dir():
        return []
    for path in hypothesis_files(directory):
        if (bad := file_name_issue(path)) is not None:
            issues.append(bad)
            continue
        try:
            plans.append(load_exploration(path))
        except SpecError as err:
            issues += err.issues
    seen: dict[str, ExplorationPlan] = {}
    for e in plans:
        if e.id in seen:
            issues.append(SpecIssue(e.file, LineMap(Path(e.file).read_text()).line(["id"]), "id",
                                    f"id {e.id!r} is already used by {seen[e.id].file}"))
        seen.setdefault(e.id, e)
    if issues:
        raise SpecError(issues)
    return plans


def check_ids(hypotheses: list, explorations: list[ExplorationPlan]) -> list[SpecIssue]:
    """An exploration and a hypothesis never share an id, and a hypothesis drafted from an exploration names
    one that exists (drafts name their exploration by its id)."""
    ids = {h.id: h for h in hypotheses}
    known = {e.id for e in explorations}
    issues = [SpecIssue(e.file, LineMap(Path(e.file).read_text()).line(["id"]), "id",
                        f"id {e.id!r} is already used by hypothesis {ids[e.id].path}") for e in explorations if e.id in ids]
    for h in hypotheses:
        parent = h.hypothesis.exploration
        if parent is not None and parent not in known:
            issues.append(SpecIssue(str(h.path), LineMap(h.path.read_text()).line(["exploration"]), "exploration",
                                    f"unknown exploration {parent!r}; loaded: {', '.join(sorted(known)) or 'none'}"))
    return issues
