"""The seal: a hypothesis's plan, recorded before any of its runs is trained, beside the hypothesis file.

The workflow seals every hypothesis it plans when it starts (Snakemake's `onstart`; a dry run seals
nothing), writing `<hypotheses>/.sealed/<id>.json`: the plan a verdict will be decided on (predictions
without their descriptions, the analysis, the probes and every condition's run spec, seeds included),
its sha256, when it was sealed, and the runs it reads that had been *seen* by then: runs already trained
(another hypothesis made them), and runs it shares with a hypothesis it refines (a draft is written after
its parent's results). A seal is never rewritten; it lives beside the hypothesis, not in results/, so
deleting results/ does not re-register a plan, and committing it with the hypothesis keeps a clone's
verdicts pre-registered. Deleting a seal by hand re-registers (git shows it).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from refute.spec.plan import Plan

FOLDER = ".sealed"
FINISHED_BEFORE = "trained before the seal"


def plan_of(hyp: Plan) -> dict:
    """The parts of a hypothesis a verdict depends on, in canonical form (defaults left out, so
    spelling out a default is not an edit)."""
    preds = {p.id: p.model_dump(mode="json", exclude_defaults=True, exclude={"description"})
             for p in hyp.hypothesis.predictions}
    design = {c: r.model_dump(mode="json", exclude_defaults=True) for c, r in hyp.conditions.items()}
    # Keeping weights at more steps changes no logged number; it matters only to probes (below).
    snapshots = {c: d["train"].pop("snapshots", []) for c, d in design.items()}
    plan = {
        "predictions": preds,
        "analysis": hyp.hypothesis.analysis.model_dump(mode="json", exclude_defaults=True),
        "design": design,
    }
    later = getattr(hyp, "later_rounds", None)
    if later:  # a sequential plan: every round's seeds are registered before the first is trained
        plan["sequential"] = {**hyp.hypothesis.sequential.model_dump(mode="json"),
                              "rounds": [{c: list(r.seeds) for c, r in rnd.items()} for rnd in later]}
    probes = getattr(hyp.hypothesis, "probes", None)
    if probes:  # what the probes measure, and when, is part of what the predictions test
        plan["probes"] = {"probes": [p.model_dump(mode="json", exclude_defaults=True) for p in probes],
                          "snapshots": snapshots}
    return plan


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def seal_path(hyp: Plan) -> Path:
    """Where a hypothesis's seal lives: beside its file, in `.sealed/<id>.json`."""
    return hyp.path.parent / FOLDER / f"{hyp.id}.json"


def read_seal(hyp: Plan) -> dict | None:
    path = seal_path(hyp)
    return json.loads(path.read_text()) if path.exists() else None


def seen_runs(hyp: Plan, finished: Callable[[str], bool], ancestors: list[Plan] = ()) -> dict[str, str]:
    """run hash → why its data was seen before this plan was sealed: trained already, or an ancestor's run."""
    mine = [h for _, h in hyp.all_runs()] if hasattr(hyp, "all_runs") else list(hyp.runs.values())
    seen = {h: FINISHED_BEFORE for h in mine if finished(h)}
    for parent in ancestors:
        for h in set(mine) & set(parent.runs.values()):
            how = "was drafted from" if hasattr(parent, "exploration") else "refines"  # an exploration, or a hypothesis
            seen.setdefault(h, f"a run of {parent.id}, which this hypothesis {how}")
    return dict(sorted(seen.items()))


def seal(hyp: Plan, finished: Callable[[str], bool], ancestors: list[Plan] = ()) -> dict:
    """Seal `hyp` unless it is sealed already; return its seal. `finished(run hash)` says whether a run's
    data exists now; `ancestors` are the hypotheses it refines, nearest first."""
    from refute import io

    existing = read_seal(hyp)
    if existing is not None:
        return existing
    plan = plan_of(hyp)
    record = {
        "id": hyp.id,
        "sealed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hypothesis_file": hyp.path.name,
        "sha256": digest(plan),
        "seen": seen_runs(hyp, finished, ancestors),
        "plan": plan,
    }
    io.write_json(seal_path(hyp), record)
    return record
