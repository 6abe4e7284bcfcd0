"""Load hypothesis files: YAML → validated spec → one concrete run spec per condition → a Plan.

Every problem is collected and reported with file, line and field before anything runs.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import math
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from refute.components.observables import metric_names
from refute.components.predictions import optimum
from refute.components.predictions.across_metrics import AcrossMetrics
from refute.components.tasks import compatibility, task_info
from refute.components.user import UserComponentError, folder_for, load_components
from refute.dotted import set_dotted
from refute.spec.errors import (LineMap, SpecError, SpecIssue, allowed_fields, dotted, error_path, humanize,
                                owner)
from refute.spec.blueprint import blueprint
from refute.spec.hashing import run_hash
from refute.spec.plan import Plan
from refute.spec.probes import probe_issues, probe_jobs, probe_metrics
from refute.spec import rounds
from refute.spec.schema import MAX_CONDITIONS, RUN_FIELDS, Hypothesis, RunSpec
from refute.registry import SLUG, ComponentError, user_code
from refute.spec.yamlfile import read_yaml

CONDITION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]{0,127}$")


def metrics_of(run: RunSpec) -> list[str]:
    arch = blueprint(run).model
    names: list[str] = []
    for obs in run.observables:
        names += metric_names(obs, run, arch)
    return names


def _issues(err: ValidationError, data: Any, lines: LineMap, file: str,
            model: type[BaseModel] = Hypothesis, top: str = "a hypothesis") -> list[SpecIssue]:
    """A file's validation errors (against `model`: a hypothesis, or an exploration) as file:line: field issues."""
    out = []
    for e in err.errors():
        path = error_path(data, e)
        allowed = allowed_fields(model, data, path[:-1]) if e["type"] == "extra_forbidden" else None
        message = humanize(e, allowed, owner(data, path[:-1], top), lines.written(path))
        out.append(SpecIssue(file, lines.line(path), dotted(path), message))
    return out


def load_hypothesis(path: str | Path) -> Plan:
    """Validate one hypothesis file (every problem at once, as a SpecError) and plan it."""
    path = Path(path)
    data, lines, text = read_yaml(path)
    return plan_data(data, str(path), lines, hashlib.sha256(text.encode()).hexdigest())


def plan_data(data: dict, file: str, lines: LineMap | None = None, sha256: str = "") -> Plan:
    """Validate a hypothesis given as data (as read from `file`) and plan it."""
    lines = lines or LineMap("")
    try:
        spec = Hypothesis.model_validate(data)
    except ValidationError as err:
        raise SpecError(_issues(err, data, lines, file)) from None

    conditions, issues = _expand_conditions(spec, data, lines, file)
    if not conditions and issues:
        raise SpecError(issues)  # nothing to check predictions and probes against
    issues += probe_issues(spec, conditions, lines, file)
    issues += _check_predictions(spec, conditions, data, lines, file)
    issues += _check_alternatives(spec, conditions, data, lines, file)
    issues += [SpecIssue(file, lines.line(where), dotted(where), message)
               for where, message in rounds.issues(spec, conditions)]
    if issues:
        raise SpecError(issues)
    runs = {c: run_hash(r) for c, r in conditions.items()}
    code = user_code([spec, conditions])
    return Plan(hypothesis=spec, file=file, file_sha256=sha256, source=data, conditions=conditions, runs=runs,
                probe_jobs=probe_jobs(spec, conditions, runs), later_rounds=rounds.later_rounds(spec, conditions),
                code=code)


def _sweep_label(path: str, value: Any, leaves: list[str]) -> str:
    leaf = path.rsplit(".", 1)[-1]
    name = leaf if leaves.count(leaf) == 1 else path
    return f"{name}={value}"


def condition_grid(conditions: dict[str, dict], sweep: dict[str, list]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every concrete condition as (name, named condition or '', {sweep path: value}): the named
    conditions crossed with the sweep grid, named like `wide_lr=0.01` (`default` when there is neither)."""
    sweep_paths = list(sweep)
    leaves = [p.rsplit(".", 1)[-1] for p in sweep_paths]
    grid = list(itertools.product(*(sweep[p] for p in sweep_paths))) if sweep_paths else [()]
    out = []
    for cname, values in itertools.product(list(conditions) or [""], grid):
        labels = [_sweep_label(p, v, leaves) for p, v in zip(sweep_paths, values)]
        out.append(("_".join([cname] * bool(cname) + labels) or "default", cname, dict(zip(sweep_paths, values))))
    return out


def _expand_conditions(spec: Hypothesis, data: dict, lines: LineMap, file: str) -> tuple[dict[str, RunSpec], list[SpecIssue]]:
    """Apply each condition's overrides (crossed with the sweep grid) to the base run spec."""
    base = {k: data[k] for k in RUN_FIELDS if k in data}
    issues: list[SpecIssue] = []
    sweep: dict[str, list] = {}
    for path, values in spec.sweep.items():
        if path.split(".", 1)[0] in RUN_FIELDS:
            sweep[path] = values
        else:  # reported here, before its values are turned into condition names
            issues.append(SpecIssue(file, lines.line(["sweep", path]), f"sweep.{path}",
                                    f"can only sweep fields of {', '.join(RUN_FIELDS)} (dotted, e.g. train.lr)"))
    sweep_paths = list(sweep)

    conditions: dict[str, RunSpec] = {}
    n_conditions = max(1, len(spec.conditions)) * math.prod(len(v) for v in sweep.values())
    if n_conditions > MAX_CONDITIONS:
        where = ["sweep"] if sweep else ["conditions"]
        issues.append(SpecIssue(file, lines.line(where), where[0], f"{n_conditions:,} conditions (named conditions × "
                                f"sweep values); at most {MAX_CONDITIONS:,} per hypothesis: split it into several"))
        return {}, issues
    for name, cname, swept in condition_grid(spec.conditions, sweep):
        overrides = spec.conditions.get(cname, {})
        values = tuple(swept.values())
        if not CONDITION_NAME.match(name):
            issues.append(SpecIssue(file, lines.line(["conditions", cname] if cname else ["sweep"]), "conditions",
                                    f"condition name {name!r} is not a safe name"))
            continue
        run = copy.deepcopy(base)
        sources = {}  # dotted override path -> where it was written, for error lines
        for path, value in [*overrides.items(), *zip(sweep_paths, values)]:
            where = ["conditions", cname, path] if path in overrides else ["sweep", path]
            head = path.split(".", 1)[0]
            if head not in RUN_FIELDS:
                issues.append(SpecIssue(file, lines.line(where), dotted(where),
                                        f"can only override {', '.join(RUN_FIELDS)} (dotted, e.g. train.lr)"))
                continue
            try:
                set_dotted(run, path, copy.deepcopy(value))
            except (KeyError, ValueError, IndexError, TypeError, AttributeError):
                issues.append(SpecIssue(file, lines.line(where), dotted(where), f"no field {path!r} to override"))
                continue
            sources[path] = where
        try:
            conditions[name] = RunSpec.model_validate(run)
            for where, message in _cross_check(conditions[name]):
                conditions[name] = None
                label = f"{dotted(where)} (condition {name})" if cname or sweep_paths else dotted(where)
                issues.append(SpecIssue(file, lines.line(where), label, message))
        except ValidationError as err:
            conditions[name] = None  # known but invalid: predictions naming it are not blamed too
            for e in err.errors():
                path = dotted(error_path(run, e))
                where = next((w for p, w in sources.items() if path == p or path.startswith(p + ".")), None)
                line = lines.line(where) if where else lines.line(error_path(run, e))
                field = f"{dotted(where[:2])}: {path}" if where else path
                at = error_path(run, e)
                allowed = allowed_fields(RunSpec, run, at[:-1]) if e["type"] == "extra_forbidden" else None
                issues.append(SpecIssue(file, line, field, humanize(e, allowed, owner(run, at[:-1]))))
    return conditions, issues


def _cross_check(run: RunSpec) -> list[tuple[list, str]]:
    """Problems between components that each validate alone: a model that cannot read the task's
    inputs (or be laid out for them), an observable that cannot measure this task or model."""
    why = compatibility(run)
    if why:
        return [(["model"], why)]
    try:
        task_info(run.task)
    except ComponentError as err:  # a user task breaking its contract
        return [(["task"], str(err))]
    try:
        arch = blueprint(run).model
    except (ValueError, ComponentError) as err:
        return [(["model"], str(err))]
    problems = []
    for i, obs in enumerate(run.observables):
        try:
            metric_names(obs, run, arch)
        except (ValueError, ComponentError) as err:
            problems.append((["observables", i], str(err)))
    return problems


def _check_predictions(spec: Hypothesis, conditions: dict[str, RunSpec], data: dict, lines: LineMap, file: str) -> list[SpecIssue]:
    issues = []
    ids = set()
    valid = {c: r for c, r in conditions.items() if r is not None}
    for i, pred in enumerate(spec.predictions):
        at = ["predictions", i]
        if pred.id in ids:
            issues.append(SpecIssue(file, lines.line([*at, "id"]), f"predictions.{i}.id", f"duplicate id {pred.id!r}"))
        ids.add(pred.id)
        opt = getattr(pred, "metric", None) if isinstance(getattr(pred, "metric", None), optimum.Optimum) else None
        seen, valid = conditions, {c: r for c, r in conditions.items() if r is not None}
        if opt is not None:  # the prediction reads groups of conditions (refute.components.predictions.optimum)
            found = _optimum_issues(pred, opt, valid)
            for where, message in found:
                issues.append(SpecIssue(file, lines.line([*at, *where.split(".")]), f"predictions.{i}.{where}", message))
            if found:
                continue
            seen = valid = optimum.view(opt, valid)
        used = pred.conditions_used(list(seen))
        unknown = [c for c in used if c not in seen]
        for c in unknown:
            issues.append(SpecIssue(file, lines.line(at), f"predictions.{i}",
                                    f"unknown condition {c!r}; defined: {', '.join(seen)}"))
        if unknown:
            continue
        if opt is not None:
            found = optimum.check(opt, {c: r for c, r in conditions.items() if r is not None}, used)
            for where, message in found:
                issues.append(SpecIssue(file, lines.line([*at, *where.split(".")]), f"predictions.{i}.{where}", message))
            if found:
                continue
        problems = pred.check(valid)
        for where, message in problems:
            issues.append(SpecIssue(file, lines.line([*at, *where.split(".")]), f"predictions.{i}.{where}", message))
        if problems:
            continue
        for unit in pred.units(valid):
            if unit.condition not in valid:
                continue  # an invalid condition is reported already; its metrics are unknown
            if opt is not None:
                issues += _optimum_logged(spec, opt, conditions, unit.condition, file, lines, at, i)
                continue
            logged = metrics_of(valid[unit.condition]) + probe_metrics(spec, unit.condition, valid[unit.condition])
            if unit.metric not in logged:
                metric = getattr(pred, "metric", None)
                where = ("x.metric" if unit.role == "x" else "metric.across" if isinstance(metric, AcrossMetrics)
                         else "metric" if unit.metric == metric else "x.metrics")
                issues.append(SpecIssue(file, lines.line([*at, *where.split(".")]), f"predictions.{i}.{where}",
                                        f"metric {unit.metric!r} is never logged or probed in condition "
                                        f"{unit.condition!r}; available: {', '.join(logged)}"))
        if spec.analysis.failed_runs == "against" and isinstance(getattr(pred, "metric", None),
                                                                 (AcrossMetrics, optimum.Optimum)):
            issues.append(SpecIssue(file, lines.line(["analysis", "failed_runs"]), "analysis.failed_runs",
                                    f"prediction {pred.id!r} summarizes several metrics per run, which gives a failed "
                                    "run no least favourable value: use failed_runs: invalid"))
        elif spec.analysis.failed_runs == "against":
            if any(pred.least_favourable(u) is None for u in pred.units(valid)):
                issues.append(SpecIssue(file, lines.line(["analysis", "failed_runs"]), "analysis.failed_runs",
                                        f"prediction {pred.id!r} ({pred.kind}, test {getattr(pred, 'test', '?')}, "
                                        f"direction {getattr(pred, 'direction', '-')}) cannot count a failed run "
                                        "against itself: use a one-sided rank or count test (compare: mannwhitney "
                                        "or wilcoxon; threshold: wilcoxon; proportion), or failed_runs: invalid"))
    return issues


def _optimum_issues(pred, opt: optimum.Optimum, valid: dict[str, RunSpec]) -> list[tuple[str, str]]:
    """What an optimum across a sweep cannot be combined with, and where `over` is not a swept number."""
    found = optimum.check(opt, valid, used=[])
    if pred.divide_by is not None:
        found.append(("divide_by", "an optimum is a value of the swept field, not of the metric: it cannot be divided"))
    x = getattr(pred, "x", None)
    if getattr(x, "param", None) == opt.over:
        found.append(("x.param", f"x is the field the optimum is taken over ({opt.over}); use another swept field"))
    if any(u.metric != opt for u in pred.units(optimum.view(opt, valid))):
        found.append(("metric", f"kind {pred.kind} measures another quantity beside the optimum; an optimum needs "
                                "a kind that tests one value per run"))
    return found


def _optimum_logged(spec: Hypothesis, opt: optimum.Optimum, conditions: dict[str, RunSpec], group: str, file: str,
                    lines: LineMap, at: list, i: int) -> list[SpecIssue]:
    """The optimum's metric must be logged (or probed) in every member condition of the group."""
    out = []
    for c in optimum.groups(opt, {k: r for k, r in conditions.items() if r is not None}).get(group, []):
        logged = metrics_of(conditions[c]) + probe_metrics(spec, c, conditions[c])
        if opt.of not in logged:
            out.append(SpecIssue(file, lines.line([*at, "metric", "of"]), f"predictions.{i}.metric.of",
                                 f"metric {opt.of!r} is never logged or probed in condition {c!r}; available: "
                                 f"{', '.join(logged)}"))
    return out


def _check_alternatives(spec: Hypothesis, conditions: dict[str, RunSpec], data: dict, lines: LineMap, file: str) -> list[SpecIssue]:
    """Each alternative names existing conditions and predictions, and each condition it names is one its
    predictions actually test (otherwise it distinguishes nothing)."""
    issues = []
    preds = {p.id: p for p in spec.predictions}
    seen = set()
    for i, alt in enumerate(spec.alternatives):
        at = ["alternatives", i]
        if alt.id in seen:
            issues.append(SpecIssue(file, lines.line([*at, "id"]), f"alternatives.{i}.id", f"duplicate id {alt.id!r}"))
        seen.add(alt.id)
        for j, pid in enumerate(alt.predictions):
            if pid not in preds:
                issues.append(SpecIssue(file, lines.line([*at, "predictions", j]), f"alternatives.{i}.predictions",
                                        f"unknown prediction {pid!r}; defined: {', '.join(preds)}"))
        tested = {c for pid in alt.predictions if pid in preds for c in preds[pid].conditions_used(list(conditions))}
        for j, c in enumerate(alt.conditions):
            if c not in conditions:
                issues.append(SpecIssue(file, lines.line([*at, "conditions", j]), f"alternatives.{i}.conditions",
                                        f"unknown condition {c!r}; defined: {', '.join(conditions)}"))
            elif c not in tested:
                issues.append(SpecIssue(file, lines.line([*at, "conditions", j]), f"alternatives.{i}.conditions",
                                        f"condition {c!r} is not tested by any of the alternative's predictions "
                                        f"({', '.join(alt.predictions)})"))
    return issues


def check_lineage(hyps: list[Plan], complete: bool = True) -> list[SpecIssue]:
    """`refines` names a loaded hypothesis, and following parents never comes back to where it started.
    With `complete=False` (some files failed to load) a missing parent may be one of those, so only cycles
    are reported."""
    by_id = {h.id: h for h in hyps}
    issues = []
    for h in hyps:
        parent = h.hypothesis.refines
        if parent is None:
            continue
        where = (str(h.path), LineMap(h.path.read_text()).line(["refines"]), "refines")
        if parent not in by_id:
            if not complete:
                continue
            known = ", ".join(sorted(by_id)) or "none"
            issues.append(SpecIssue(*where, f"unknown parent hypothesis {parent!r}; loaded: {known}"))
            continue
        chain, node = [h.id], parent
        while node is not None and node in by_id and node not in chain:
            chain.append(node)
            node = by_id[node].hypothesis.refines
        if node == h.id:
            issues.append(SpecIssue(*where, "lineage cycle: " + " → ".join([*chain, h.id])))
    return issues


def condition_warnings(hyp: Plan) -> list[SpecIssue]:
    """Conditions whose run specs are identical share one training run, so comparing them compares a run with
    itself (p = 1 every time): one warning per such pair, at the later condition's line, naming both."""
    lines = LineMap(hyp.path.read_text()) if hyp.path.exists() else LineMap("")
    where = {name: (["conditions", cname] if cname else ["sweep"])
             for name, cname, _ in condition_grid(hyp.hypothesis.conditions, hyp.hypothesis.sweep)}
    first: dict[str, str] = {}
    out = []
    top = max(s for r in hyp.conditions.values() for s in r.seeds)
    for cond, h in hyp.runs.items():
        if h not in first:
            first[h] = cond
            continue
        n = len(hyp.conditions[cond].seeds)
        fresh = list(range(top + 1, top + 1 + n))
        top += n
        at = where.get(cond, ["conditions"])
        out.append(SpecIssue(str(hyp.path), lines.line(at), dotted(at),
                             f"conditions {first[h]!r} and {cond!r} have identical run specs, so they share one "
                             f"training run ({h}): a prediction comparing them compares that run with itself. If "
                             f"they are meant as independent replicates, give {cond!r} its own seeds, e.g. "
                             f"conditions: {{{cond}: {{seeds: {fresh}}}}}"))
    return out


def hypothesis_files(directory: str | Path) -> list[Path]:
    """Every hypothesis file of a folder: `*.yaml` and `*.yml`."""
    return sorted([*Path(directory).glob("*.yaml"), *Path(directory).glob("*.yml")])


def file_name_issue(path: Path) -> SpecIssue | None:
    """A file name that is not a safe slug (the rule for ids) reaches shells and folder names: refused."""
    if re.match(SLUG, path.stem):
        return None
    return SpecIssue(str(path), 0, "", f"file name {path.name!r} is not allowed: name hypothesis files like ids "
                                       "(lower-case letters, digits, '-' and '_'; e.g. weight-decay-groks.yaml)")


def load_project_components(hypotheses: str | Path = "hypotheses", components: str | Path | None = None) -> None:
    """Import the project's own components (see refute.components.user) before its hypotheses are read;
    a module that cannot be loaded is a SpecError naming its file and line."""
    try:
        load_components(folder_for(hypotheses, components))
    except UserComponentError as err:
        raise SpecError([SpecIssue(p.file, p.line, "", p.message) for p in err.problems]) from None


def load_all(directory: str | Path = "hypotheses", components: str | Path | None = None) -> list[Plan]:
    """Load and validate every hypothesis file in `directory`, after the project's components (`components`,
    default: the folder beside `directory`); raise one SpecError listing all problems."""
    load_project_components(directory, components)
    hyps, issues = [], []
    for path in hypothesis_files(directory):
        if (bad := file_name_issue(path)) is not None:
            issues.append(bad)
            continue
        try:
            hyps.append(load_hypothesis(path))
        except SpecError as err:
            issues += err.issues
    seen: dict[str, Plan] = {}
    for h in hyps:
        if h.id in seen:
            issues.append(SpecIssue(str(h.path), LineMap(h.path.read_text()).line(["id"]), "id",
                                    f"id {h.id!r} is already used by {seen[h.id].path}"))
        seen.setdefault(h.id, h)
    issues += check_lineage(hyps, complete=not issues)
    if issues:
        raise SpecError(issues)
    return hyps
