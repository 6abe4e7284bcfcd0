"""localization: find the components of a site responsible for a behaviour within a budget of forward passes.

Exhaustive ablation costs one pass per component. Adaptive group testing costs about log2 of
that when few components matter: ablate a group; if the damage reaches the threshold, split it
and test one half; if that half is harmless, the other half must hold the cause (no pass spent),
else the other half is kept to test later. A component is named only after ablating it alone
did the damage, so every named component is truly responsible; what the budget can cost is
recall. The clean pass counts against the budget. With `exhaustive: true` the probe also ablates
every component alone (not counted) and reports how close the budgeted search came.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generator

from pydantic import Field

from refute.components.probes._ablate import AblationBase, Ablator, check_components
from refute.components.probes import ProbeContext, Table
from refute.components.probes import PROBES, Probe

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec


Search = Generator[list[int], bool, tuple[list[int], int, bool]]


class LocalizationParams(AblationBase):
    budget: int = Field(10, ge=2, le=100_000, description="forward passes allowed, the clean pass included")
    exhaustive: bool = Field(True, description="also ablate every component alone, to score the search against it")
    expected: list[int] | None = Field(
        None, description="components known to be responsible (planted), to score the search against as well"
    )


def group_search(n: int, budget: int) -> Search:
    """Yields groups of components to ablate and receives whether each did damage >= threshold.

    Returns (components named, passes used, whether the search finished within the budget).
    """
    passes = 1  # the clean pass
    found: list[int] = []
    positive: list[tuple[list[int], bool]] = []  # (group, tested) known or inferred to hold a cause
    untested: list[list[int]] = [list(range(n))]
    while positive or untested:
        if positive:
            group, tested = positive.pop()
            if len(group) == 1 and tested:
                found.append(group[0])
                continue
            probe = group if len(group) == 1 else group[: len(group) // 2]
            rest = [] if len(group) == 1 else group[len(group) // 2:]
        else:
            probe, rest = untested.pop(), []
        if passes >= budget:
            return sorted(found), passes, False
        passes += 1
        hit = yield probe
        if hit:
            if rest:
                untested.append(rest)
            positive.append((probe, True))
        elif rest:
            # The parent did damage and this half does none: the cause is in the other half.
            positive.append((rest, False))
    return sorted(found), passes, True


def run_searches(ab: Ablator, n_seeds: int, budget: int) -> list[tuple[list[int], int, bool]]:
    """Every seed's search at once: each forward pass ablates a different group in each seed."""
    searches = [group_search(ab.n_components, budget) for _ in range(n_seeds)]
    results: list = [None] * n_seeds
    pending: list = [None] * n_seeds
    for i, s in enumerate(searches):
        try:
            pending[i] = next(s)
        except StopIteration as stop:
            results[i] = stop.value
    while any(g is not None for g in pending):
        damage = ab.damage([g if g is not None else [] for g in pending])
        for i, g in enumerate(pending):
            if g is None:
                continue
            try:
                pending[i] = searches[i].send(bool(damage[i] >= ab.p.threshold))
            except StopIteration as stop:
                pending[i], results[i] = None, stop.value
    return results


@PROBES.register("localization", LocalizationParams)
class Localization(Probe):
    """budgeted search for the components responsible for a behaviour, scored against exhaustive ablation"""

    def check(self, p: LocalizationParams, run: RunSpec, anatomy: Architecture) -> list[str]:
        issues = check_components(p, run, anatomy)
        if not issues and p.expected is not None:
            n = anatomy.sites[p.site] // p.group_size
            bad = [c for c in p.expected if not 0 <= c < n]
            if bad:
                issues.append(f"expected: components {bad} are outside 0..{n - 1} of {p.site!r}")
        return issues

    def outputs(self, p: LocalizationParams, run: RunSpec, anatomy: Architecture) -> list[tuple[str, str]]:
        names = ["passes", "found", "complete"]
        if p.exhaustive:
            names += ["exhaustive_passes", "exhaustive_found", "recall", "precision", "jaccard", "exact"]
        if p.expected is not None:
            names += ["expected_recall", "expected_exact"]
        return [(m, p.site) for m in names]

    def compute(self, p: LocalizationParams, ctx: ProbeContext) -> Table:
        import torch

        x, y = ctx.examples(p.split, p.max_examples)
        ab = Ablator(ctx.model, x, y, ctx.data.objective, p)
        results = run_searches(ab, ctx.n_seeds, p.budget)
        t = Table(ctx.seeds)
        t.add("passes", [r[1] for r in results], site=p.site)
        t.add("found", [len(r[0]) for r in results], site=p.site)
        t.add("complete", [float(r[2]) for r in results], site=p.site)
        named = torch.zeros(ctx.n_seeds, ab.n_components)
        for i, r in enumerate(results):
            named[i, r[0]] = 1
        for c in range(ab.n_components):
            t.add("named", named[:, c], site=p.site, unit=c)
        if p.expected is not None:
            want = torch.zeros(ab.n_components, dtype=torch.bool)
            want[p.expected] = True
            hit = (named.bool() & want).sum(1).double()
            t.add("expected_recall", hit / max(len(p.expected), 1) if p.expected else 1.0, site=p.site)
            t.add("expected_exact", (named.bool() == want).all(1).double(), site=p.site)
        if p.exhaustive:
            each = ab.each()
            truth = each >= p.threshold
            hits = (truth & named.bool()).sum(1).double()
            union = (truth | named.bool()).sum(1).double()
            t.add("exhaustive_passes", ab.n_components + 1, site=p.site)
            t.add("exhaustive_found", truth.sum(1), site=p.site)
            # Nothing to find and nothing named counts as a perfect answer.
            t.add("recall", torch.where(truth.any(1), hits / truth.sum(1).clamp_min(1), 1.0), site=p.site)
            t.add("precision", torch.where(named.bool().any(1), hits / named.sum(1).clamp_min(1), 1.0), site=p.site)
            t.add("jaccard", torch.where(union > 0, hits / union.clamp_min(1), 1.0), site=p.site)
            t.add("exact", (truth == named.bool()).all(1).double(), site=p.site)
            for c in range(ab.n_components):
                t.add("damage", each[:, c], site=p.site, unit=c)
        return t
