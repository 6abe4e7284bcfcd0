"""The next experiment: draft a hypothesis file that refines one whose verdict is in.

- INCONCLUSIVE → **more seeds**: as many as the power analysis asks for (`seeds_for_80`, the seeds per
  condition for 80% power, per undecided prediction; the largest wins). Where no prediction has one, the
  fallback rule is four times the seeds, which halves every confidence interval (its width goes as 1/√n).
  The seeds are fresh (disjoint from the parent's) so the child is an independent test: adding seeds to
  the parent's and testing again would be optional stopping. Where every prediction has an anytime-valid
  test (refute.components.predictions.sequential), the draft says so, and `refute refine <id> --sequential`
  drafts **sequential rounds** instead: up to twice that many seeds, stopping as soon as every prediction
  is decided.
- SUPPORTED → **generalization**: does the claim hold along the most relevant axis (see `choose_axis`)?
  A sweep over it, one step beyond the values tested on each side, with every prediction repeated at
  every value.
- REFUTED → **boundary probe**: where does the effect stop? If the hypothesis swept an axis and its
  predictions held at some values and were contradicted at others, a finer sweep between the two;
  otherwise a wide sweep (×¼ … ×4) around the value tested, predictions repeated at every value.
- INVALID → no draft: fix the failing runs first.

Every draft trains on fresh seeds, disjoint from every seed of the parent, so none of its runs is one of
the parent's: a draft is written after its parent's results, and re-testing the parent's own runs would be
testing on seen data (refute.spec.seal).

A draft is only written: nothing runs until the researcher reads it, edits it and runs it. Priors are
left out on purpose: a prior must be stated before seeing the data, so the draft asks for new ones.
"""

from __future__ import annotations

import copy
import math
import re
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from refute import io
from refute.dotted import set_dotted
from refute.layout import VERDICT, Layout
from refute.registry import SLUG
from refute.spec.loader import condition_grid, plan_data
from refute.spec.plan import Plan
from refute.spec.schema import MAX_SEEDS, RUN_FIELDS, RunSpec
from refute.stats import records
from refute.stats.records import Decision, PredictionRecord
from refute.components.predictions import power
from refute.components.predictions.sequential import SUPPORTED as SEQUENTIAL_KINDS, fewest_deciding
from refute.components.predictions.outcome import CONTRADICTED, HOLDS, INCONCLUSIVE, INVALID, REFUTED, SUPPORTED, UNDECIDED

MORE_SEEDS, GENERALIZATION, BOUNDARY = "more seeds", "generalization", "boundary probe"
SUFFIX = {MORE_SEEDS: "more-seeds", GENERALIZATION: "general", BOUNDARY: "boundary"}
FALLBACK_FACTOR = 4  # 4× the seeds halves a CI: its width goes as 1/√n
# Where a result is first asked to generalize, in order: model scale, amount of data, optimizer, budget.
PREFERRED_AXES = ("model.params.width", "model.params.d_model", "task.params.train_fraction", "train.lr",
                  "train.weight_decay", "train.steps")


class RefineError(ValueError):
    """No draft can be made (no verdict yet, an INVALID verdict, no axis to sweep ...)."""


@dataclass
class Draft:
    id: str
    kind: str
    data: dict  # the hypothesis, ready to be written as YAML
    why: list[str] = field(default_factory=list)  # what was drafted and from what, for the header

    def text(self, parent: str, verdict: str) -> str:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        head = [f"Drafted by `refute refine {parent}` on {stamp}: the parent's verdict is {verdict}.",
                f"Next experiment: {self.kind}.", *self.why,
                "Nothing has run. Read and edit this file (title, statement, predictions), give each prediction "
                "the `prior` you hold now (the probability that it holds), then:"]
        lines = [w for line in head for w in textwrap.wrap(line, 98)]
        lines.append(f"  refute check && refute run {self.id}")
        return "".join(f"# {line}\n" for line in lines) + dump_yaml(self.data)


def next_kind(verdict: str) -> str:
    if verdict == INCONCLUSIVE:
        return MORE_SEEDS
    if verdict == SUPPORTED:
        return GENERALIZATION
    if verdict == REFUTED:
        return BOUNDARY
    if verdict == INVALID:
        raise RefineError("the verdict is INVALID (a run failed or diverged): fix the runs before refining; "
                          "see the report's Why section")
    raise RefineError(f"unknown verdict {verdict!r}")


def draft(hyp: Plan, decision: Decision, taken: set[str],
          axis: str | None = None, values: list[Any] | None = None, sequential: bool = False) -> Draft:
    """The draft that follows `hyp` given its verdict and predictions; `taken` holds the ids (and file
    stems) already in use, so the draft never replaces anything. `sequential`: an INCONCLUSIVE verdict's
    more seeds in sequential rounds."""
    kind = next_kind(decision.verdict.verdict)
    if sequential and kind != MORE_SEEDS:
        raise RefineError(f"--sequential drafts more seeds for an INCONCLUSIVE verdict; {hyp.id} is "
                          f"{decision.verdict.verdict} (its next experiment: {kind})")
    predictions = decision.predictions
    data = _base(hyp, _new_id(hyp.id, kind, taken))
    if kind == MORE_SEEDS:
        why = _more_seeds(hyp, data, predictions, sequential)
    else:
        axis = axis or choose_axis(hyp)
        if values is None:
            values, why = (_generalization_values if kind == GENERALIZATION else _boundary_values)(hyp, axis, predictions)
        else:
            why = [f"Sweep over {axis}: {values} (given on the command line)."]
        values = _valid_values(hyp, axis, values)
        resweep(data, hyp, axis, values)
        fresh = _fresh_seeds(hyp, data, len)
        why.append(f"Fresh seeds {fresh[0]}–{fresh[-1]}, disjoint from the parent's: the values it tested are "
                   "tested again on new runs, so no prediction reads the parent's data.")
        n = len(data["predictions"])
        if n > len(hyp.hypothesis.predictions):
            correction = getattr(getattr(hyp.hypothesis, "analysis", None), "correction", "none")
            why.append(f"{n} predictions now: " + (
                "each is tested at its own α with no correction for multiplicity; consider analysis.correction."
                if correction == "none" else
                f"p is corrected across them ({correction}, analysis.correction), so each needs stronger evidence."))
        data["statement"] = (data["statement"].strip() + " " + (
            f"This should hold at every {axis} in {values}." if kind == GENERALIZATION else
            f"Probe: at which {axis} in {values} does the predicted effect hold, and where does it stop?"))
    return Draft(data["id"], kind, data, why)


def _base(hyp: Plan, new_id: str) -> dict:
    """The parent's file as the starting point: new id, `refines` the parent, priors cleared."""
    raw = copy.deepcopy(hyp.source)
    data = {"id": new_id, "refines": hyp.id, "title": raw.pop("title"), "statement": raw.pop("statement")}
    raw.pop("id")
    raw.pop("refines", None)
    data.update(raw)
    for p in data["predictions"]:
        p.pop("prior", None)
    return data


def _new_id(parent: str, kind: str, taken: set[str]) -> str:
    # a-more-seeds refined again is a-more-seeds-2, not a-more-seeds-more-seeds.
    stem = re.sub(r"-(more-seeds|general|boundary)(-\d+)?$", "", parent)
    base = f"{stem}-{SUFFIX[kind]}"
    for i in range(1, 1000):
        tail = "" if i == 1 else f"-{i}"
        candidate = base[: 64 - len(tail)] + tail
        if candidate not in taken:
            return candidate
    raise RefineError(f"no free id for a draft from {parent!r}")


# ---------------------------------------------------------------- more seeds

def seeds_needed(predictions: list[PredictionRecord]) -> tuple[int | None, list[str]]:
    """The most seeds any undecided prediction's power analysis asks for, and which asked."""
    asks = {}
    for p in predictions:
        if p.outcome.status != UNDECIDED or p.result.power is None:
            continue
        n = p.result.power.seeds_for_80
        if n is not None and n > 0:
            asks[p.id] = int(n)
    if not asks:
        return None, []
    n = max(asks.values())
    return n, [k for k, v in asks.items() if v == n]


def exact_floor(hyp: Plan, predictions: list[PredictionRecord]) -> tuple[int, float]:
    """The fewest seeds with which every undecided prediction could be decided if its runs all gave one value
    (see refute.components.predictions.power.fewest_exact_runs), at its α after correction (α/k, the
    strictest Holm step); and that α."""
    k = len(predictions) if hyp.hypothesis.analysis.correction != "none" else 1
    alphas = [p.spec.alpha / k for p in predictions if p.outcome.status == UNDECIDED] or [1.0]
    return power.fewest_exact_runs(min(alphas)), min(alphas)


def _more_seeds(hyp: Plan, data: dict, predictions: list[PredictionRecord], sequential: bool = False) -> list[str]:
    current = max(len(run.seeds) for run in hyp.conditions.values())
    n, who = seeds_needed(predictions)
    if n is not None:
        why = [f"{n} seeds per condition: what the power analysis of {', '.join(who)} asks for (80% power)."]
    else:
        n = current * FALLBACK_FACTOR
        why = [f"{n} seeds per condition ({FALLBACK_FACTOR}× the parent's {current}): no prediction has a power "
               "analysis, and 4× the seeds halves every confidence interval."]
        floor, alpha = exact_floor(hyp, predictions)
        if floor > n:
            n = floor
            why = [f"{n} seeds per condition: no prediction has a power analysis, and {FALLBACK_FACTOR}× the parent's "
                   f"{current} would be too few if the runs came out all at one value (a ceiling), where an exact "
                   f"test needs 1/2ⁿ < α = {alpha:.3g} (the strictest α after correction): n ≥ {n}."]
    if n > MAX_SEEDS:
        why.append(f"The power analysis asks for {n}; capped at {MAX_SEEDS}. An effect this small may be below "
                   "any that matters: consider the smallest effect of interest (min_effect) instead.")
        n = MAX_SEEDS
    unsupported = sequential_issues(hyp)
    if not sequential:
        data.pop("sequential", None)  # a sequential parent's rounds: this draft takes its seeds in one batch
        fresh = _fresh_seeds(hyp, data, lambda seeds: n)
        why.append(f"Fresh seeds {fresh[0]}–{fresh[-1]}, disjoint from the parent's, so this is an independent test.")
        why.append(f"Sequential rounds are not available here: {unsupported[0]}." if unsupported else
                   f"Or gather the seeds in sequential rounds, stopping as soon as every prediction is decided "
                   f"(anytime-valid): refute refine {hyp.id} --sequential")
        return why
    if unsupported:
        raise RefineError(f"no sequential draft: {'; '.join(unsupported)}")
    # Sequential rounds instead of one batch: stop as soon as every prediction is decided (anytime-valid
    # e-values keep the error rate at α however many rounds are looked at), with a budget of twice the fixed-n
    # plan, since an anytime-valid test pays for being allowed to look.
    k = len(predictions) if hyp.hypothesis.analysis.correction != "none" else 1
    alpha = min(p.spec.alpha for p in predictions) / k
    per_round = max(current, fewest_deciding(alpha))
    budget = min(MAX_SEEDS, max(2 * n, 2 * per_round))
    fresh = _fresh_seeds(hyp, data, lambda seeds: per_round)
    data["sequential"] = {"seeds_per_round": per_round, "max_seeds": budget}
    why.append(f"In sequential rounds of {per_round} fresh seeds (seeds {fresh[0]}–{fresh[-1]} first, disjoint from the "
               f"parent's), up to {budget} per condition (twice that plan): each round is trained only while a "
               f"prediction is undecided, and anytime-valid e-values keep the error rate at α however many rounds "
               f"are looked at. {per_round} seeds a round: the fewest whose e-value can reach 1/α = {1 / alpha:.4g}.")
    return why


def sequential_issues(hyp: Plan) -> list[str]:
    """Why the parent's predictions cannot be tested in sequential rounds (empty when they can)."""
    out = []
    for pred in hyp.hypothesis.predictions:
        tests = SEQUENTIAL_KINDS.get(pred.kind, ())
        if getattr(pred, "test", None) not in tests or getattr(pred, "scale", "difference") != "difference":
            out.append(f"prediction {pred.id} ({pred.kind}, test {getattr(pred, 'test', '-')}) has no anytime-valid "
                       "test (sequential supports threshold with t, compare with welch or paired_t)")
    if hyp.hypothesis.probes:
        out.append("the hypothesis runs probes, which sequential rounds do not run yet")
    return out


def _fresh_seeds(hyp: Plan, data: dict, size) -> list[int]:
    """Replace the draft's seeds with fresh ones after every seed the parent used: `size(parent's seeds)` of
    them per seed list. Conditions that shared the parent's seeds share the new ones (paired tests stay
    paired); a condition with seeds of its own gets a block of its own (replicates stay apart). Returns the
    base seeds."""
    # Every seed the parent planned, a sequential parent's later rounds included.
    top = max(s for k in range(1, hyp.round_count() + 1) for run in hyp.round_conditions(k).values() for s in run.seeds)
    blocks: dict[tuple[int, ...], list[int]] = {}

    def fresh(seeds: list[int]) -> list[int]:
        nonlocal top
        key = tuple(seeds)
        if key not in blocks:
            n = size(seeds)
            blocks[key], top = list(range(top + 1, top + 1 + n)), top + n
        return blocks[key]

    as_list = lambda v: list(range(v)) if isinstance(v, int) else list(v)  # noqa: E731 (`seeds: n` is 0..n-1)
    data["seeds"] = fresh(list(hyp.hypothesis.seeds))
    for overrides in (data.get("conditions") or {}).values():
        if "seeds" in overrides:
            overrides["seeds"] = fresh(as_list(overrides["seeds"]))
    return data["seeds"]


# ---------------------------------------------------------------- axes and values

def _base_run(hyp: Plan) -> dict:
    return {k: copy.deepcopy(hyp.source[k]) for k in RUN_FIELDS if k in hyp.source}


def _value_at(run: RunSpec, path: str) -> Any:
    node = run
    for k in path.split("."):
        node = getattr(node, k, None) if not isinstance(node, dict) else node.get(k)
        if node is None:
            return None
    return node


def choose_axis(hyp: Plan) -> str:
    """The axis to sweep next: the hypothesis's own sweep axis if it has one (widen what it swept);
    else the first of PREFERRED_AXES that is a number in its runs and that no condition overrides (the
    conditions' own fields are the treatment, not an axis to generalize over); else any numeric task or
    model parameter."""
    if hyp.hypothesis.sweep:
        return next(iter(hyp.hypothesis.sweep))
    overridden = {k for o in hyp.hypothesis.conditions.values() for k in o}
    run = next(iter(hyp.conditions.values()))
    numeric = lambda p: isinstance(_value_at(run, p), (int, float)) and not isinstance(_value_at(run, p), bool)
    for path in PREFERRED_AXES:
        if path not in overridden and numeric(path):
            return path
    for part in ("model", "task"):
        for name in getattr(run, part).params.model_fields:
            path = f"{part}.params.{name}"
            if path not in overridden and numeric(path):
                return path
    raise RefineError("no numeric axis to sweep; name one with --axis")


def _round(x: float, like: Any) -> Any:
    if isinstance(like, int) and not isinstance(like, bool):
        return max(1, int(round(x)))
    return float(f"{x:.3g}")


def _is_valid(hyp: Plan, axis: str, value: Any) -> bool:
    run = _base_run(hyp)
    try:
        set_dotted(run, axis, value)
        RunSpec.model_validate(run)
    except (ValidationError, KeyError, TypeError, ValueError, IndexError, AttributeError):
        return False
    return True


def _valid_values(hyp: Plan, axis: str, values: list[Any]) -> list[Any]:
    good = [v for v in dict.fromkeys(values) if _is_valid(hyp, axis, v)]
    bad = [v for v in values if v not in good]
    if len(good) < 2:
        raise RefineError(f"a sweep over {axis} needs at least two valid values; got {good}"
                          + (f" (invalid: {bad})" if bad else ""))
    return sorted(good)


def _step_out(hyp: Plan, axis: str, value: Any, factor: float) -> Any | None:
    """`value` moved by `factor` (× for up, ÷ for down), or the nearest valid point short of it
    (for bounded fields such as a fraction below 1: halfway to the bound)."""
    for f in (factor, math.sqrt(factor)):
        v = _round(value * f, value)
        if v != value and _is_valid(hyp, axis, v):
            return v
    if isinstance(value, float) and 0 < value < 1 and factor > 1:  # a fraction: halfway to 1
        v = _round(value + (1 - value) / 2, value)
        if _is_valid(hyp, axis, v):
            return v
    return None


def _current(hyp: Plan, axis: str) -> list[Any]:
    if axis in hyp.hypothesis.sweep:
        return sorted(hyp.hypothesis.sweep[axis])
    values = {_value_at(run, axis) for run in hyp.conditions.values()}
    values.discard(None)
    if not values:
        raise RefineError(f"{axis} is not a field of this hypothesis's runs")
    return sorted(values)


def _generalization_values(hyp: Plan, axis: str, predictions: list[PredictionRecord]) -> tuple[list[Any], list[str]]:
    tested = _current(hyp, axis)
    lo, hi = tested[0], tested[-1]
    if len(tested) > 1 and lo > 0:
        step = (hi / lo) ** (1 / (len(tested) - 1))  # keep the sweep's own spacing
    else:
        step = 2.0
    if not isinstance(lo, (int, float)) or lo <= 0:
        raise RefineError(f"cannot widen {axis} from {tested}; give --values")
    new = [v for v in (_step_out(hyp, axis, lo, 1 / step), _step_out(hyp, axis, hi, step)) if v is not None]
    values = sorted({*tested, *new})
    return values, [f"Generalization over {axis} (the most relevant axis: see refute.loop.refine.choose_axis): "
                    f"tested {tested}, now {values}; every prediction is repeated at every value."]


def _boundary_values(hyp: Plan, axis: str, predictions: list[PredictionRecord]) -> tuple[list[Any], list[str]]:
    tested = _current(hyp, axis)
    if axis in hyp.hypothesis.sweep:
        status = _status_by_value(hyp, axis, predictions)
        pairs = [(a, b) for a, b in zip(tested, tested[1:]) if status.get(a) and status.get(b) and
                 status[a] != status[b] and {status[a], status[b]} == {HOLDS, CONTRADICTED}]
        if pairs:
            a, b = pairs[0]
            inner = _between(a, b)
            values = sorted({a, *inner, b})
            return values, [f"Boundary probe on {axis}: the predictions hold at {a if status[a] == HOLDS else b} and "
                            f"are contradicted at {b if status[a] == HOLDS else a}; a finer sweep between: {values}."]
    v = tested[len(tested) // 2]
    if not isinstance(v, (int, float)) or v <= 0:
        raise RefineError(f"cannot probe around {axis} = {v}; give --values")
    values = sorted({x for x in (_step_out(hyp, axis, v, 1 / 4), _step_out(hyp, axis, v, 1 / 2), v,
                                 _step_out(hyp, axis, v, 2), _step_out(hyp, axis, v, 4)) if x is not None})
    return values, [f"Boundary probe on {axis}: refuted at {v}; a wide sweep {values} to find where the predicted "
                    "effect holds and where it stops (read it per value: some values are expected to fail)."]


def _between(a: Any, b: Any, k: int = 3) -> list[Any]:
    if a > 0 and b > 0:
        pts = [a * (b / a) ** (i / (k + 1)) for i in range(1, k + 1)]
    else:
        pts = [a + (b - a) * i / (k + 1) for i in range(1, k + 1)]
    return sorted({_round(x, a) for x in pts} - {a, b})


def _status_by_value(hyp: Plan, axis: str, predictions: list[PredictionRecord]) -> dict[Any, str]:
    """Per value of the swept axis: 'holds' if every prediction tied to it held, 'contradicted' if any
    was contradicted, else undecided."""
    cond_value = {name: swept.get(axis) for name, _, swept in condition_grid(hyp.hypothesis.conditions, hyp.hypothesis.sweep)}
    per: dict[Any, list[str]] = {}
    for p in predictions:
        vals = {cond_value.get(c) for c in p.conditions}
        if len(vals) == 1:
            per.setdefault(vals.pop(), []).append(p.outcome.status)
    return {v: CONTRADICTED if CONTRADICTED in s else HOLDS if all(x == HOLDS for x in s) else UNDECIDED
            for v, s in per.items()}


def _conditions_of(pred: dict) -> list[str]:
    if "conditions" in pred:
        return list(pred["conditions"])
    return [pred["condition"]] if "condition" in pred else []


# ---------------------------------------------------------------- sweeping a draft

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", str(text).lower().replace(".", "p").replace("=", "-"))


def _with_label(pid: str, old_label: str | None, label: str) -> str:
    if old_label and pid.endswith(f"-{old_label}"):
        pid = pid[: -len(old_label) - 1]
    tail = f"-{label}"
    return pid[: 64 - len(tail)] + tail


def resweep(data: dict, hyp: Plan, axis: str, values: list[Any]) -> None:
    """Set `sweep[axis] = values` in the draft and carry the predictions and alternatives over to the new
    condition names: a prediction whose conditions all sit at one value of the axis (or that predates the
    axis) is repeated at every value; one that compares values of the axis is kept as it is."""
    old_sweep = dict(hyp.hypothesis.sweep)
    new_sweep = {**old_sweep, axis: values}
    # The sweep goes right after the conditions it is crossed with.
    rest = {k: data.pop(k) for k in list(data) if k not in ("id", "refines", "title", "statement", *RUN_FIELDS,
                                                            "conditions")}
    data.pop("sweep", None)
    rest.pop("sweep", None)
    data["sweep"] = {k: list(v) for k, v in new_sweep.items()}
    data.update(rest)
    old = {name: (cname, swept) for name, cname, swept in condition_grid(hyp.hypothesis.conditions, old_sweep)}
    new = {(cname, tuple(sorted(swept.items(), key=lambda kv: kv[0]))): name
           for name, cname, swept in condition_grid(hyp.hypothesis.conditions, new_sweep)}
    leaf = axis.rsplit(".", 1)[-1]

    def renamed(cond: str, value: Any) -> str:
        cname, swept = old[cond]
        return new[(cname, tuple(sorted({**swept, axis: value}.items(), key=lambda kv: kv[0])))]

    tested = list(old_sweep.get(axis, []))

    def spread(was: Any) -> list[Any]:
        """The values a thing tied to `was` moves to: all of them when the axis is new; else `was` itself
        and the new values whose nearest tested value is `was`."""
        if was is None:
            return list(values)
        fresh = [v for v in values if v not in tested and _nearest(v, tested) == was]
        return [was, *fresh]

    preds, replicas = [], {}
    for p in data["predictions"]:
        conds = _conditions_of(p)
        at = {old[c][1].get(axis) for c in conds}
        if len(at) != 1:  # compares along the axis: keep it
            preds.append(p)
            replicas[p["id"]] = [p["id"]]
            continue
        was = at.pop()
        replicas[p["id"]] = []
        for v in spread(was):
            q = copy.deepcopy(p)
            if v != was:
                q["id"] = _with_label(p["id"], _slug(f"{leaf}={was}") if was is not None else None,
                                      _slug(f"{leaf}={v}"))
            if "conditions" in q:
                q["conditions"] = [renamed(c, v) for c in conds]
            else:
                q["condition"] = renamed(conds[0], v)
            preds.append(q)
            replicas[p["id"]].append(q["id"])
    data["predictions"] = _dedupe(preds)
    for alt in data.get("alternatives") or []:
        alt["predictions"] = list(dict.fromkeys(r for pid in alt["predictions"] for r in replicas.get(pid, [pid])))
        alt["conditions"] = list(dict.fromkeys(renamed(c, v) for c in alt["conditions"]
                                               for v in spread(old[c][1].get(axis))))


def _nearest(v: Any, tested: list[Any]) -> Any:
    if v > 0 and all(w > 0 for w in tested):
        return min(tested, key=lambda w: abs(math.log(v / w)))
    return min(tested, key=lambda w: abs(v - w))


def _dedupe(preds: list[dict]) -> list[dict]:
    seen, out = set(), []
    for p in preds:
        if p["id"] not in seen:
            seen.add(p["id"])
            out.append(p)
    return out


# ---------------------------------------------------------------- YAML out

class _Flow(dict):
    """A mapping written on one line ({a: 1, b: 2})."""


class _Dumper(yaml.SafeDumper):
    pass


def _scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool)) or v is None


_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v.items(), flow_style=True))
_Dumper.add_representer(list, lambda d, v: d.represent_sequence(
    "tag:yaml.org,2002:seq", v, flow_style=all(_scalar(x) for x in v)))
# Long prose (statements, descriptions) is folded over lines; a title stays on one line.
_Dumper.add_representer(str, lambda d, v: d.represent_scalar(
    "tag:yaml.org,2002:str", v, style=">" if len(v) > 100 and "\n" not in v.strip() else None))


def _flow_leaves(value: Any, depth: int = 0) -> Any:
    # Small mappings of scalars (component params, condition overrides, reductions) read best on one line.
    if isinstance(value, dict):
        inner = {k: _flow_leaves(v, depth + 1) for k, v in value.items()}
        return _Flow(inner) if depth >= 1 and value and all(_scalar(v) for v in value.values()) else inner
    if isinstance(value, list):
        return [_flow_leaves(v, depth + 1) for v in value]
    return value


def dump_yaml(data: dict) -> str:
    body = {k: (_flow_leaves(v) if k not in ("predictions", "alternatives") else
                [{kk: _flow_leaves(vv, 1) for kk, vv in p.items()} for p in v]) for k, v in data.items()}
    return yaml.dump(body, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


# ---------------------------------------------------------------- the command

def write_draft(hyp_id: str, hypotheses: str | Path = "hypotheses", results: str | Path = "results",
                axis: str | None = None, values: list[Any] | None = None,
                sequential: bool = False) -> tuple[Path, Draft]:
    """Draft the next experiment after `hyp_id` into hypotheses/<new id>.yaml (never over an existing
    file), from the plan its verdict was decided on and its verified records, and check that the draft
    validates. Runs nothing."""
    hypotheses, results = Path(hypotheses), Path(results)
    stems = sorted(p.stem for p in hypotheses.glob("*.yaml"))
    if not records.analysed(results, hyp_id) and hyp_id not in stems:
        raise RefineError(f"no hypothesis {hyp_id!r} in {hypotheses}/; known: {', '.join(stems) or 'none'}")
    if not records.analysed(results, hyp_id):
        raise RefineError(f"{hyp_id} has no verdict yet ({Layout(results).hypothesis_file(hyp_id, VERDICT)} is "
                          f"missing): run it first (refute run {hyp_id})")
    decision = records.read(results, hyp_id)
    plan_file = Layout(results).plan_file(decision.verdict.plan)
    if not plan_file.exists():
        raise RefineError(f"the plan {hyp_id}'s verdict was decided on ({plan_file}) is missing: run it again "
                          f"first (refute run {hyp_id})")
    hyp = decision.plan(results)
    # The file's bytes, not its content: a draft must follow the hypothesis as it was analysed.
    if hyp.path.exists() and io.sha256(hyp.path) != hyp.file_sha256:
        raise RefineError(f"{hyp.path} changed since its verdict was decided: run it again first (refute run {hyp_id})")
    taken = set(stems) | {p.name for p in results.iterdir() if p.is_dir()}
    d = draft(hyp, decision, taken, axis, values, sequential)
    if not re.match(SLUG, d.id):
        raise RefineError(f"drafted id {d.id!r} is not a slug")
    path = hypotheses / f"{d.id}.yaml"
    plan_data(d.data, str(path))  # the draft validates as a hypothesis before it is written
    text = d.text(hyp_id, decision.verdict.verdict)
    with open(path, "x", encoding="utf-8") as f:  # "x": never replaces a file
        f.write(text)
    return path, d
