"""Validation of a hypothesis's `probes:` against each condition's model, and the metrics probes add.

A probe is checked against every condition it applies to (sites, token matrices, snapshots,
reference conditions), so a bad probe stops the workflow before any job runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from refute.components.probes import PROBES, address, anatomy_of, check_steps, steps_of
from refute.spec.errors import LineMap, SpecIssue
from refute.spec.plan import ProbeJob

if TYPE_CHECKING:
    from refute.spec.schema import Hypothesis, RunSpec


def applies_to(probe, conditions: dict) -> list[str]:
    return [c for c in conditions if probe.conditions is None or c in probe.conditions]


def reference_of(probe) -> tuple[str, str] | None:
    return PROBES.get(probe.name).impl.reference(probe)


def probe_issues(spec: Hypothesis, conditions: dict[str, RunSpec | None], lines: LineMap, file: str) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    seen: dict[str, int] = {}
    for i, probe in enumerate(spec.probes):
        at = ["probes", i]

        def issue(message: str, field: str | None = None) -> None:
            path = [*at, field] if field else at
            issues.append(SpecIssue(file, lines.line(path), ".".join(map(str, path)), message))

        if probe.label in seen:
            issue(f"duplicate probe id {probe.label!r} (probe {seen[probe.label]} has it); give one an id:", "id")
        seen.setdefault(probe.label, i)
        for c in probe.conditions or []:
            if c not in conditions:
                issue(f"unknown condition {c!r}; defined: {', '.join(conditions)}", "conditions")
        messages: dict[str, list[str]] = {}  # message -> conditions it applies to
        for c in applies_to(probe, conditions):
            run = conditions.get(c)
            if run is None:
                continue  # an invalid condition is reported on its own
            impl = PROBES.get(probe.name).impl
            found = check_steps(probe, run) + impl.check(probe, run, anatomy_of(run))
            found += _reference_issues(probe, c, run, conditions)
            for m in found:
                messages.setdefault(m, []).append(c)
        for m, conds in messages.items():
            field, _, text = m.partition(": ") if ": " in m and " " not in m.split(": ", 1)[0] else ("", "", m)
            where = f" (condition {', '.join(conds)})" if len(conds) < len(applies_to(probe, conditions)) else ""
            issue(text + where, field or None)
    return issues


def _reference_issues(probe, cond: str, run: RunSpec, conditions) -> list[str]:
    ref = reference_of(probe)
    if ref is None:
        return []
    name, site = ref
    other = conditions.get(name)
    if name not in conditions:
        return [f"reference: unknown condition {name!r}; defined: {', '.join(conditions)}"]
    if other is None:
        return []
    out = []
    if other.task != run.task:
        out.append(f"reference: condition {name!r} has another task; representations are compared on the same examples")
    if list(other.seeds) != list(run.seeds):
        out.append(f"reference: condition {name!r} has other seeds; seeds are compared one to one")
    anatomy = anatomy_of(other)
    if site not in anatomy.sites:
        have = ", ".join(anatomy.sites)
        out.append(f"reference_site: condition {name!r} has no site {site!r}; sites: {have}")
    missing = [s for s in steps_of(probe, run) if s != other.train.steps and s not in other.train.snapshots]
    if missing:
        out.append(f"steps: condition {name!r} keeps no weights at {missing}")
    return out


def probe_metrics(spec, condition: str, run: RunSpec) -> list[str]:
    """Every probe output a prediction may name in this condition: <id>/<metric>[@<site>]."""
    names = []
    for probe in spec.probes:
        if probe.conditions is not None and condition not in probe.conditions:
            continue
        impl = PROBES.get(probe.name).impl
        names += [address(probe.label, m, s) for m, s in impl.outputs(probe, run, anatomy_of(run))]
    return names


def probe_jobs(spec: Hypothesis, conditions: dict[str, RunSpec], runs: dict[str, str]) -> list[ProbeJob]:
    """One job per (probe, condition it applies to)."""
    jobs = []
    for probe in spec.probes:
        params = probe.model_dump(mode="json", exclude={"id", "conditions"})
        ref = reference_of(probe)
        for cond in applies_to(probe, conditions):
            jobs.append(ProbeJob(condition=cond, probe=probe.label, run=runs[cond],
                                 reference=runs[ref[0]] if ref else None, params=params))
    return jobs
