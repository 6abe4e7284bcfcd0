"""Lineage: how a refined hypothesis differs from its parent, how its verdict moved, and the family tree.

Everything works on the records the statistics stage writes (refute.stats.records.VerdictRecord: the
validated spec, the verdict, the per-prediction outcomes), so a child's report never needs to rerun or
touch its parent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from refute.stats.records import VerdictRecord

# Fields that name the hypothesis rather than say what it claims or how it is tested.
IDENTITY = ("id", "refines")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaf values. Lists of records with an `id` (predictions, alternatives) are keyed by
    that id, so inserting one does not make every later one look changed; other lists are leaves. Empty
    top-level collections are left out, so `alternatives: []` and no alternatives read the same."""
    if isinstance(value, dict):
        if not value:
            return {prefix: {}} if prefix and "." in prefix else {}
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and not value and prefix and "." not in prefix:
        return {}
    if isinstance(value, str):  # YAML folding and chomping change whitespace, not meaning
        return {prefix: " ".join(value.split())}
    if isinstance(value, list) and value and all(isinstance(v, dict) and "id" in v for v in value):
        return {f"{prefix}[{v['id']}]": {k: x for k, x in v.items() if k != "id"} for v in value}
    return {prefix: value}


def _records(flat: dict[str, Any]) -> dict[str, Any]:
    """Expand keyed records (`predictions[x]`) into their fields, keeping the record whole too."""
    out = {}
    for k, v in flat.items():
        if k.endswith("]") and isinstance(v, dict):
            out.update({f"{k}.{f}": x for f, x in flatten(v).items()})
        else:
            out[k] = v
    return out


@dataclass(frozen=True)
class Change:
    field: str
    before: Any  # None when the field is new
    after: Any  # None when the field was removed

    def to_dict(self) -> dict:
        return {"field": self.field, "before": show(self.field, self.before), "after": show(self.field, self.after)}


def spec_diff(parent: dict, child: dict) -> list[Change]:
    """Every field whose value differs between the parent's spec and the child's (identity fields aside).
    A prediction or alternative only one side has is one change (the whole record); one both have is
    compared field by field."""
    a = {k: v for k, v in flatten(parent).items() if _top(k) not in IDENTITY}
    b = {k: v for k, v in flatten(child).items() if _top(k) not in IDENTITY}
    changes = [Change(k, a.get(k), b.get(k)) for k in a.keys() ^ b.keys()]
    for k in a.keys() & b.keys():
        if a[k] == b[k]:
            continue
        if k.endswith("]"):  # a record both have: which of its fields changed
            fa, fb = _records({k: a[k]}), _records({k: b[k]})
            changes += [Change(f, fa.get(f), fb.get(f)) for f in fa.keys() | fb.keys() if fa.get(f) != fb.get(f)]
        else:
            changes.append(Change(k, a[k], b[k]))
    return sorted(changes, key=lambda c: (_rank(_top(c.field)), c.field))


def _top(key: str) -> str:
    return key.split(".")[0].split("[")[0]


def _rank(top: str) -> int:
    # Changes are listed in the order the fields appear in a hypothesis file: task, model, ... predictions.
    from refute.spec.schema import Hypothesis

    order = list(Hypothesis.model_fields)
    return order.index(top) if top in order else len(order)


def show(field: str, value: Any) -> str:
    """A value as a short string for a table cell; seed lists as ranges."""
    if value is None:
        return "—"
    if field == "seeds" or field.endswith(".seeds"):
        return _seeds(value)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict) and field.endswith("]"):  # a whole prediction or alternative, added or dropped
        return _record(value)
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 240 else text[:239] + "…"


def _record(rec: dict) -> str:
    """A prediction or alternative in a few words: kind, metric, conditions (or the explanation)."""
    if "explanation" in rec:
        return " ".join(str(rec["explanation"]).split())
    conds = rec.get("conditions") or ([rec["condition"]] if "condition" in rec else [])
    parts = [str(rec.get("kind", "")), f"{rec['metric']}" if "metric" in rec else "",
             f"on {', '.join(map(str, conds))}" if conds else ""]
    return " ".join(p for p in parts if p) or json.dumps(rec, ensure_ascii=False)[:240]


def _seeds(seeds: Any) -> str:
    if not isinstance(seeds, list) or not seeds:
        return json.dumps(seeds)
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        span = f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 1 else f"{seeds[0]}"
        return f"{span} ({len(seeds)} seed{'s' * (len(seeds) > 1)})"
    return f"{json.dumps(seeds)} ({len(seeds)} seeds)"


def verdict_movement(parent: VerdictRecord, child: VerdictRecord) -> dict:
    """How the verdict and each shared prediction's outcome moved from parent to child, and which
    predictions the child added or dropped."""
    pp, cp = parent.predictions, child.predictions
    return {
        "verdict": [parent.verdict, child.verdict],
        "predictions": [{"id": k, "before": pp[k], "after": cp[k]} for k in cp if k in pp],
        "added": [k for k in cp if k not in pp],
        "dropped": [k for k in pp if k not in cp],
    }


def lineage_of(parent: VerdictRecord | None, child: VerdictRecord) -> dict | None:
    """What a report shows about its parent: id, title, verdict, its own parent, the diff, the movement."""
    if parent is None:
        return None
    return {
        "parent": parent.id,
        "parent_title": parent.title,
        "grandparent": parent.refines,
        "changes": [c.to_dict() for c in spec_diff(parent.spec.model_dump(mode="json"),
                                                   child.spec.model_dump(mode="json"))],
        "movement": verdict_movement(parent, child),
    }


def tree(parents: dict[str, str | None]) -> list[tuple[int, str]]:
    """The lineage forest as (depth, id) in depth-first order: roots sorted by id, children under
    their parent. A parent missing from `parents` makes its child a root."""
    children: dict[str | None, list[str]] = {}
    for node, parent in parents.items():
        children.setdefault(parent if parent in parents else None, []).append(node)
    out: list[tuple[int, str]] = []

    def walk(node: str, depth: int) -> None:
        out.append((depth, node))
        for c in sorted(children.get(node, [])):
            walk(c, depth + 1)

    for root in sorted(children.get(None, [])):
        walk(root, 0)
    return out


def ancestors(node: str, parents: dict[str, str | None]) -> Iterable[str]:
    """The parent, grandparent, ... of `node` (stops at a missing parent or a repeat)."""
    seen = {node}
    while (node := parents.get(node)) is not None and node not in seen:
        seen.add(node)
        yield node
