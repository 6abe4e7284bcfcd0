"""The observation stage of an exploration: gather its runs, reduce every curve, run the event detectors,
correct their p-values across every candidate (Holm), and write what was found.

Writes results/explorations/<id>/{observations.parquet, reduced.parquet, events.json}; events.json last (it
marks the stage complete). An event is *found* when its corrected p is at most `look.alpha`: the chance that
an exploration of pure noise finds anything is at most that (family-wise, under any dependence between the
candidates). Found events are what `refute discover` drafts hypotheses from.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from refute import io
from refute.components.certificates import is_companion
from refute.components.events import EVENTS, Event, Observations, holm
from refute.layout import EVENTS as EVENTS_FILE
from refute.layout import OBSERVATIONS, REDUCED, Layout
from refute.spec.exploration import ExplorationPlan, reduction_label
from refute.stats.analyse import diverged_seeds, probe_observations, read_probes, read_runs


def read_exploration_plan(path: str | Path) -> ExplorationPlan:
    return ExplorationPlan.model_validate(io.read_json(path))


def observations(plan: ExplorationPlan, table: pd.DataFrame, meta: dict[str, dict]) -> Observations:
    """The detectors' view of an exploration's tidy table (condition, seed, step, metric, value)."""
    look = plan.exploration.look
    table = table[~table.metric.map(is_companion)]  # an estimator's health certificates are not observations
    if look.metrics:
        table = table[table.metric.isin(look.metrics)]
    reductions = {reduction_label(r): r.model_dump(mode="json", exclude_defaults=True) | {"name": r.name}
                  for r in look.reductions}
    failed = {c: set(s) for c, s in diverged_seeds(meta).items()}
    budget = {c: int(meta[c]["steps"]) for c in plan.conditions}
    return Observations.from_curves(table.reset_index(drop=True), plan.coords, reductions, budget, plan.named,
                                    plan.overrides, failed)


def detect(plan: ExplorationPlan, obs: Observations) -> list[Event]:
    """Every candidate event of every detector, with its Holm-corrected p; unique ids."""
    candidates: list[Event] = []
    for spec in plan.exploration.look.events:
        candidates += EVENTS.get(spec.name).impl.detect(spec, obs)
    seen: dict[str, int] = {}
    out = []
    for e, p_adj in zip(candidates, holm([e.p for e in candidates])):
        n = seen[e.id] = seen.get(e.id, 0) + 1
        out.append(e.model_copy(update={"p_adjusted": p_adj, "id": e.id if n == 1 else f"{e.id[:60]}-{n}"}))
    return sorted(out, key=lambda e: (e.p_adjusted, e.id))


def observe(plan_path: str | Path, results: str | Path = "results") -> dict:
    """Write an exploration's tables and events.json for the plan file the workflow wrote; return the record."""
    results = Path(results)
    plan = read_exploration_plan(plan_path)
    table, meta = read_runs(plan, results)
    probes = read_probes(plan, results)
    if len(probes):
        table = pd.concat([table, probe_observations(probes)], ignore_index=True)
    obs = observations(plan, table, meta)
    events = detect(plan, obs)
    alpha = plan.exploration.look.alpha
    found = [e for e in events if e.p_adjusted <= alpha]
    out = Layout(results).exploration_dir(plan.id)
    io.write_parquet(out / OBSERVATIONS, obs.curves)
    io.write_parquet(out / REDUCED, obs.reduced)
    record = {"id": plan.id, "plan": Path(plan_path).stem, "alpha": alpha, "candidates": len(events),
              "found": [e.model_dump(mode="json") for e in found],
              "not_found": [e.model_dump(mode="json") for e in events if e.p_adjusted > alpha],
              "failed": {c: sorted(s) for c, s in obs.failed.items() if s}}
    io.write_json(out / EVENTS_FILE, record)
    return record


def load(results: str | Path, exploration_id: str) -> tuple[ExplorationPlan, Observations, list[Event], dict]:
    """An observed exploration as its observation stage left it: plan, observations, found events, record."""
    layout = Layout(results)
    path = layout.exploration_file(exploration_id, EVENTS_FILE)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist yet: run the exploration first (refute run)")
    record = io.read_json(path)
    plan = read_exploration_plan(layout.plan_file(record["plan"]))
    out = layout.exploration_dir(exploration_id)
    curves = pd.read_parquet(out / OBSERVATIONS)
    reduced = pd.read_parquet(out / REDUCED)
    look = plan.exploration.look
    reductions = {reduction_label(r): r.model_dump(mode="json", exclude_defaults=True) | {"name": r.name}
                  for r in look.reductions}
    budget = {c: int(r.train.steps) for c, r in plan.conditions.items()}
    obs = Observations(curves, reduced, plan.coords, plan.named, plan.overrides, budget,
                       {c: set(s) for c, s in record.get("failed", {}).items()}, reductions)
    return plan, obs, [Event.model_validate(e) for e in record["found"]], record
