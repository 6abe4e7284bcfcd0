"""Pre-registration: the plan a verdict was promised on, recorded when a hypothesis is first analysed.

The plan is the predictions (without their free-text descriptions), the analysis block, the probes
the predictions may read, and the design: every condition's run spec, seeds included (adding seeds after seeing a result is
optional stopping). The first analysis writes results/<id>/preregistration.json; it is never
overwritten. A later analysis whose plan hashes differently is *post hoc*: the verdict says so,
and the report names what changed.

Snakemake: the file is deliberately not an output of any rule, so reruns (`--forcerun`,
`--forceall`, a changed hypothesis file) never delete it; only removing it by hand re-registers.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from refute import io
from refute.spec.plan import Plan

FILE = "preregistration.json"
PRE_REGISTERED, POST_HOC = "pre-registered", "post hoc"


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
    probes = getattr(hyp.hypothesis, "probes", None)
    if probes:  # what the probes measure, and when, is part of what the predictions test
        plan["probes"] = {"probes": [p.model_dump(mode="json", exclude_defaults=True) for p in probes],
                          "snapshots": snapshots}
    return plan


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def check(hyp: Plan, out_dir: str | Path) -> dict:
    """Register the plan if this is the hypothesis's first analysis; say whether the current plan is
    the registered one, and if not, what changed."""
    path = Path(out_dir) / FILE
    plan = plan_of(hyp)
    if not path.exists():
        io.write_json(path, {
            "id": hyp.id,
            "registered_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "hypothesis_file": str(hyp.path),
            "sha256": digest(plan),
            "plan": plan,
        })
    registered = json.loads(path.read_text())
    changed = differences(registered["plan"], plan)
    return {
        "status": POST_HOC if changed else PRE_REGISTERED,
        "registered_at": registered["registered_at"],
        "sha256": registered["sha256"],
        "current_sha256": digest(plan),
        "changed": changed,
    }


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
    if old.get("analysis") != new.get("analysis"):
        out.append(f"analysis plan edited: {old.get('analysis')} → {new.get('analysis')}")
    return out
