"""`refute discover <exploration>`: for each event an exploration found, draft the hypothesis that would
confirm it on fresh seeds.

Each draft is an ordinary hypothesis file in hypotheses/, validated before it is written (never over an
existing file): the exploration's base run, the conditions the event's detector chose, the predictions that
would confirm the event (kind, metric, reduction, direction, a smallest effect of interest from what was
seen) and seeds

- disjoint from every seed the exploration trained, so no exploration run is ever evidence for the draft
  (different seeds give different run hashes: nothing is shared);
- as many per condition as the detector's power analysis on the observed effect asks for (at half the
  effect seen: an effect found by searching is an overestimate).

Its `exploration:` field names its parent, so the index counts, per exploration, how many of its drafts were
confirmed, refuted or left undecided. A header comment names the event and its figure. Nothing runs.
"""

from __future__ import annotations

import copy
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from refute.components.events import EVENTS, Event, Observations, slug
from refute.layout import FIGURES, Layout
from refute.loop.refine import dump_yaml
from refute.spec.exploration import ExplorationPlan
from refute.spec.loader import plan_data
from refute.spec.schema import MAX_SEEDS, RUN_FIELDS


MARK = "drafted from event:"


class DiscoverError(ValueError):
    """No drafts can be made (the exploration has not been observed, or is unknown)."""


@dataclass
class Draft:
    id: str
    event: Event
    data: dict
    why: list[str] = field(default_factory=list)
    figure: str = ""

    def text(self, exploration: str) -> str:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        head = [f"Drafted by `refute discover {exploration}` on {stamp} from event {self.event.id} "
                f"({self.event.detector}; corrected p {self.event.p_adjusted:.3g} among the exploration's candidates).",
                f"Evidence figure: {self.figure}", *self.why,
                "The exploration's runs are not evidence for this hypothesis: its seeds are fresh. Nothing has run. "
                "Read and edit it (title, statement, predictions), give each prediction the `prior` you hold now, then:"]
        lines = [w for line in head for w in textwrap.wrap(line, 98, break_on_hyphens=False, break_long_words=False)]
        lines.append(f"  refute check && refute run {self.id}")
        # A line of its own, never wrapped: a later `refute discover` reads it so as not to draft an event twice.
        lines.append(f"{MARK} {exploration}/{self.event.id}")
        return "".join(f"# {line}\n" for line in lines) + dump_yaml(self.data)


def fresh_seeds(plan: ExplorationPlan, n: int) -> list[int]:
    """n seeds after every seed the exploration trained."""
    used = max(s for run in plan.conditions.values() for s in run.seeds)
    return list(range(used + 1, used + 1 + min(n, MAX_SEEDS)))


def _rename(predictions: list[dict], names: dict[str, str]) -> list[dict]:
    out = []
    for p in copy.deepcopy(predictions):
        if "condition" in p:
            p["condition"] = names.get(p["condition"], p["condition"])
        if isinstance(p.get("conditions"), list):
            p["conditions"] = [names.get(c, c) for c in p["conditions"]]
        out.append(p)
    return out


def draft_for(plan: ExplorationPlan, obs: Observations, event: Event, taken: set[str], results: str | Path) -> Draft:
    """The hypothesis that would confirm one event (see the module docstring)."""
    spec = next(s for s in plan.exploration.look.events if s.name == event.detector)
    proposal = EVENTS.get(event.detector).impl.draft(spec, event, obs)
    names = {c: slug(c) for c in proposal.conditions}
    base = {k: copy.deepcopy(plan.source[k]) for k in RUN_FIELDS if k in plan.source}
    seeds = fresh_seeds(plan, proposal.seeds)
    base["seeds"] = seeds
    conditions = {names[c]: {k: v for k, v in o.items() if k != "seeds"} for c, o in proposal.conditions.items()}
    new_id = slug(plan.id, event.id)
    for i in range(2, 1000):
        if new_id not in taken:
            break
        new_id = f"{slug(plan.id, event.id)[:60]}-{i}"
    data = {"id": new_id, "exploration": plan.id,
            "title": f"Confirm on fresh seeds: {event.summary}"[:200],
            "statement": proposal.statement, **base, "conditions": conditions,
            "predictions": _rename(proposal.predictions, names)}
    figure = str(Layout(results).exploration_file(plan.id, FIGURES) / f"event-{event.id}.png")
    why = [*proposal.why, f"Fresh seeds {seeds[0]}–{seeds[-1]}: disjoint from the exploration's."]
    return Draft(new_id, event, data, why, figure)


def write_drafts(exploration_id: str, hypotheses: str | Path = "hypotheses",
                 results: str | Path = "results") -> list[tuple[Path, Draft]]:
    """Draft a hypothesis per event the exploration found into `hypotheses/` (validated; never over a file)."""
    from refute.stats import observe

    try:
        plan, obs, events, _ = observe.load(results, exploration_id)
    except FileNotFoundError as err:
        raise DiscoverError(str(err)) from None
    hypotheses = Path(hypotheses)
    hypotheses.mkdir(parents=True, exist_ok=True)
    taken = {p.stem for p in [*hypotheses.glob("*.yaml"), *hypotheses.glob("*.yml")]}
    already = {_drafted_from(p) for p in hypotheses.glob("*.yaml")} - {None}
    written = []
    for event in events:
        if (exploration_id, event.id) in already:
            continue  # drafted by an earlier `refute discover`: never twice
        try:
            d = draft_for(plan, obs, event, taken, results)
        except ValueError as err:  # a detector that cannot draft this event says why
            print(f"refute: event {event.id}: no draft: {err}")
            continue
        path = hypotheses / f"{d.id}.yaml"
        plan_data(d.data, str(path))  # the draft validates as a hypothesis before it is written
        with open(path, "x", encoding="utf-8") as f:
            f.write(d.text(exploration_id))
        taken.add(d.id)
        written.append((path, d))
    return written


def no_drafts(exploration_id: str, results: str | Path = "results") -> str:
    """Why `refute discover` wrote nothing: no event was found, or every one is drafted already."""
    from refute import io
    from refute.layout import EVENTS

    record = io.read_json(Layout(results).exploration_file(exploration_id, EVENTS))
    if not record["found"]:
        return (f"No drafts: {exploration_id} found no event — none of its {record['candidates']} candidate "
                f"event(s) passed the correction across candidates (Holm, α = {record['alpha']:g}). Nothing to "
                "confirm; nothing was written.")
    return f"No new drafts: each of the {len(record['found'])} event(s) {exploration_id} found is drafted already."


def _drafted_from(path: Path) -> tuple[str, str] | None:
    """(exploration, event) named in a draft's header, for files `refute discover` wrote."""
    try:
        head = path.read_text(encoding="utf-8")[:4000]
    except OSError:
        return None
    for line in head.splitlines():
        if line.startswith(f"# {MARK} "):
            exploration, _, event = line[len(MARK) + 3:].strip().partition("/")
            return exploration, event
    return None
