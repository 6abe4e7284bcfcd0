"""The rounds of a sequential hypothesis (`sequential: {seeds_per_round, max_seeds}`), planned up front.

Round 1 is each condition's own `seeds`. Round r ≥ 2 gives every condition `seeds_per_round` fresh seeds
continuing past the largest seed of its round r − 1 (so rounds never share a seed, and conditions that
share their seeds, as paired comparisons need, share them in every round), until a condition has
`max_seeds` (the last round may be smaller). Every round's runs are ordinary runs with their own hash;
all of them are in the plan, and so in its seal, before the first is trained.
"""

from __future__ import annotations

from refute.components.predictions.sequential import SUPPORTED
from refute.spec.schema import Hypothesis, RunSpec


def later_rounds(spec: Hypothesis, conditions: dict[str, RunSpec]) -> list[dict[str, RunSpec]]:
    """Round 2, 3, ...: condition → its run spec with that round's seeds (empty when not sequential)."""
    plan = spec.sequential
    if plan is None:
        return []
    out: list[dict[str, RunSpec]] = []
    last = {c: list(r.seeds) for c, r in conditions.items()}
    used = {c: len(r.seeds) for c, r in conditions.items()}
    while any(used[c] < plan.max_seeds for c in conditions):
        round_ = {}
        for c, run in conditions.items():
            k = min(plan.seeds_per_round, plan.max_seeds - used[c])
            if k <= 0:
                continue
            start = max(last[c]) + 1
            last[c] = list(range(start, start + k))
            used[c] += k
            round_[c] = run.model_copy(update={"seeds": last[c]})
        out.append(round_)
    return out


def issues(spec: Hypothesis, conditions: dict[str, RunSpec]) -> list[tuple[list, str]]:
    """What a sequential plan cannot do here, as (where in the file, message)."""
    plan = spec.sequential
    if plan is None:
        return []
    out = []
    for i, pred in enumerate(spec.predictions):
        tests = SUPPORTED.get(pred.kind)
        test = getattr(pred, "test", None)
        if tests is None or test not in tests or getattr(pred, "scale", "difference") != "difference":
            kinds = "; ".join(f"{k} with test {' or '.join(t)}" for k, t in SUPPORTED.items())
            what = f"{pred.kind} (test {test})" if test else pred.kind
            if getattr(pred, "scale", "difference") != "difference":
                what += f", scale {pred.scale}"
            out.append((["predictions", i, "kind"], f"prediction {pred.id!r}: {what} has no anytime-valid test for "
                        f"sequential rounds; sequential supports {kinds}, on differences"))
    for c, run in conditions.items():
        if run is not None and len(run.seeds) >= plan.max_seeds:
            out.append((["sequential", "max_seeds"], f"max_seeds {plan.max_seeds} leaves no round after the first: "
                        f"condition {c!r} has {len(run.seeds)} seeds in round 1"))
            break
    if spec.probes:
        out.append((["sequential"], "sequential rounds do not run probes yet: drop `probes` or `sequential`"))
    return out
