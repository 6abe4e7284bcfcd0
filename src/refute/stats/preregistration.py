"""Pre-registration: is the plan analysed the one sealed before its runs were trained (refute.spec.seal)?

A later analysis whose plan hashes differently from the seal is *post hoc*: the verdict says so, and the
report names what changed. A prediction that reads a run whose data had been seen when the plan was sealed
(trained before it, or a run of the hypothesis it refines) is *seen data*: tested and shown, not scored.
Analysed without a seal (called outside the workflow, or the seal deleted), the plan is sealed now, and every
run that exists already counts as seen.
"""

from __future__ import annotations

from pathlib import Path

from refute.components.predictions.optimum import conditions_read
from refute.layout import RUN_RECORD, Layout
from refute.spec.plan import Plan
from refute.spec.seal import digest, plan_of, seal, seal_path

__all__ = ["check", "differences", "digest", "plan_of", "runs_read", "seen_by_prediction"]

PRE_REGISTERED, POST_HOC = "pre-registered", "post hoc"


def check(hyp: Plan, results: str | Path) -> dict:
    """Whether the current plan is the sealed one, and if not, what changed; the runs seen before the seal."""
    layout = Layout(results)
    sealed = seal(hyp, lambda h: layout.run_file(h, RUN_RECORD).exists())
    plan = plan_of(hyp)
    changed = differences(sealed["plan"], plan)
    return {
        "status": POST_HOC if changed else PRE_REGISTERED,
        "registered_at": sealed["sealed_at"],
        "sha256": sealed["sha256"],
        "current_sha256": digest(plan),
        "changed": changed,
        "seal": str(seal_path(hyp)),
        "seen": dict(sealed.get("seen", {})),
    }


def seen_by_prediction(hyp: Plan, seen: dict[str, str]) -> dict[str, list[str]]:
    """prediction id → why each run it reads had been seen before the seal (empty when none had)."""
    return {pred.id: [f"{what} (run {h}): {seen[h]}" for what, h in runs_read(hyp, pred).items() if h in seen]
            for pred in hyp.hypothesis.predictions}


def runs_read(hyp: Plan, pred) -> dict[str, str]:
    """What a prediction reads → run hash: its conditions' runs, and the reference run of a probe it reads
    (cka between conditions)."""
    conds = [c for c in conditions_read(pred, hyp.conditions) if c in hyp.runs]
    out = {f"condition {c!r}": hyp.runs[c] for c in conds}
    for k in range(2, hyp.round_count() + 1):  # a sequential plan's later rounds
        out.update({f"condition {c!r}, round {k}": h for c, h in hyp.round_runs(k).items() if c in conds})
    metrics = {u.metric for u in pred.units(hyp.conditions)}
    for job in hyp.probe_jobs:
        if job.reference and job.condition in conds and any(m.startswith(f"{job.probe}/") for m in metrics):
            out.setdefault(f"probe {job.probe!r}'s reference", job.reference)
    return out


def differences(old: dict, new: dict) -> list[str]:
    """What changed between two plans, in words, one line per changed item."""
    out = []
    for part, what in (("predictions", "prediction"), ("design", "condition")):
        a, b = old.get(part, {}), new.get(part, {})
        out += [f"{what} {k!r} added" for k in b if k not in a]
        out += [f"{what} {k!r} removed" for k in a if k not in b]
        for k in a:
            if k in b and a[k] != b[k]:
                fields = sorted({f for f in set(a[k]) | set(b[k]) if a[k].get(f) != b[k].get(f)})
                out.append(f"{what} {k!r} edited ({', '.join(fields)})")
    if old.get("probes") != new.get("probes"):
        out.append("probes edited")
    if old.get("sequential") != new.get("sequential"):
        out.append("sequential rounds edited")
    if old.get("analysis") != new.get("analysis"):
        out.append(f"analysis plan edited: {old.get('analysis')} → {new.get('analysis')}")
    return out
