"""boundary: the swept value where runs stop reaching a threshold (or start to diverge).

Along each line of conditions that differ only in one swept value, each run *reaches* when it did not
diverge and, for each `reach` entry, its reduced metric is at or beyond the level (`above` or `below`);
with no `reach` entries, reaching is not diverging. At each cut of the line into the values below and
above it, a one-sided Fisher exact test on the pooled fractions that reach; the smallest p is multiplied by
the number of cuts and by two (either direction). The boundary lies between the two values at that cut.

Draft: a condition on either side of the boundary (the nearest to it whose fraction lies on its side of
one half, where one does) on fresh seeds, and two proportion predictions. A threshold boundary: on the
reaching side more than half of the runs reach; on the other, fewer than half. A divergence boundary: on
the stable side more than half of the runs do not diverge; on the other, more than half diverge
(`meets: {diverged: ...}`: a diverged run is the outcome counted there, not a failed run).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from refute.components.events import (SHRINK, DetectorParams, Detector, DraftPlan, EVENTS, Event, Observations, fmt,
                                      reduce_spec, seeds_for, slug)
from refute.registry import Params


class Reach(Params):
    metric: str = Field(description="the metric a run must reach")
    reduce: str = Field("final", description="the reduction label (one of look.reductions)")
    above: float | None = Field(None, description="a run reaches when the value is ≥ this")
    below: float | None = Field(None, description="a run reaches when the value is ≤ this")

    @model_validator(mode="after")
    def _one(self):
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above, below")
        return self

    def words(self) -> str:
        return f"{self.metric} ({self.reduce}) " + (f"≥ {self.above:g}" if self.above is not None else f"≤ {self.below:g}")


class BoundaryParams(DetectorParams):
    reach: list[Reach] = Field(default_factory=list, description="thresholds a run must reach (none: not diverging)")


@EVENTS.register("boundary", BoundaryParams)
class Boundary(Detector):
    """the swept value where runs stop reaching a threshold or start to diverge"""

    def _reached(self, obs: Observations, cond: str, reach: Reach | None) -> np.ndarray:
        r = obs.reduced
        seeds = sorted(set(r[r.condition == cond].seed.astype(int)) | obs.failed.get(cond, set()))
        if reach is None:
            return np.array([s not in obs.failed.get(cond, set()) for s in seeds])
        sub = r[(r.condition == cond) & (r.metric == reach.metric) & (r.reduce == reach.reduce)]
        value = dict(zip(sub.seed.astype(int), sub.value.astype(float)))
        out = []
        for s in seeds:
            v = value.get(s, np.nan)
            ok = np.isfinite(v) and (v >= reach.above if reach.above is not None else v <= reach.below)
            out.append(bool(ok) and s not in obs.failed.get(cond, set()))
        return np.array(out)

    def detect(self, p: BoundaryParams, obs: Observations) -> list[Event]:
        from scipy import stats

        events = []
        for line in obs.lines(2):
            for reach in p.reach or [None]:
                hits = [self._reached(obs, c, reach) for c in line.conditions]
                if min(map(len, hits)) < 2:
                    continue
                fr = np.array([h.mean() for h in hits])
                if fr.min() == fr.max():
                    continue
                # Every cut of the line into a lower and an upper part: pooled fractions compared (Fisher).
                best = (2.0, 0, "greater")
                for i in range(len(hits) - 1):
                    a, b = np.concatenate(hits[:i + 1]), np.concatenate(hits[i + 1:])
                    alt = "greater" if a.mean() > b.mean() else "less"
                    table = [[a.sum(), len(a) - a.sum()], [b.sum(), len(b) - b.sum()]]
                    best = min(best, (float(stats.fisher_exact(table, alternative=alt).pvalue), i, alt))
                pv, i, alt = best
                pval = min(1.0, pv * (len(line.xs) - 1) * 2)
                what = f"reaching {reach.words()}" if reach else "training without diverging"
                # the conditions a draft compares: on each side of the cut, the nearest to it whose fraction
                # lies on that side of one half (else the one farthest from it)
                low, high = list(range(i, -1, -1)), list(range(i + 1, len(fr)))
                up, down = (low, high) if alt == "greater" else (high, low)
                reaching = next((j for j in up if fr[j] > 0.5), max(up, key=lambda j: fr[j]))
                failing = next((j for j in down if fr[j] < 0.5), min(down, key=lambda j: fr[j]))
                events.append(Event(
                    id=slug("boundary", reach.metric if reach else "diverge", line.axis.rsplit(".", 1)[-1],
                        *line.fixed.values()),
                    detector="boundary", metric=reach.metric if reach else "diverged",
                    reduce=reach.reduce if reach else None, conditions=list(line.conditions), axis=line.axis,
                    summary=f"the runs {what} fall from {fr[reaching]:.0%} at {line.axis} = "
                            f"{line.xs[reaching]:g} to {fr[failing]:.0%} at {line.xs[failing]:g} ({line.label()})",
                    p=pval,
                    stats={"x_reach": line.xs[reaching], "x_fail": line.xs[failing], "reach": line.conditions[reaching],
                           "fail": line.conditions[failing], "fractions": fr.tolist(), "xs": line.xs,
                           "criterion": reach.model_dump(mode="json", exclude_none=True) if reach else None}))
        return events

    def draft(self, p: BoundaryParams, event: Event, obs: Observations) -> DraftPlan:
        from refute.components.predictions import power

        s = event.stats
        fr = dict(zip(event.conditions, s["fractions"]))
        seeds = 0
        for cond in (s["reach"], s["fail"]):
            effect = SHRINK * abs(fr[cond] - 0.5)
            if effect > 0:
                seeds = max(seeds, seeds_for(lambda n: power.binomial_power(0.5, 0.5 + effect, n, 0.05 / 2, "greater")))
        preds = self._divergence(event, obs, fr) if s["criterion"] is None else self._threshold(event, obs, fr)
        why = [f"Seen: {event.summary}.",
               f"Seeds: {seeds} per condition for 80% power (exact binomial) at half the distance from 50% seen."]
        what = Reach(**s["criterion"]).words() if s["criterion"] else "training without diverging"
        statement = (f"Runs reach {what} at {event.axis} = {s['x_reach']:g} but mostly not at "
                     f"{event.axis} = {s['x_fail']:g}: a boundary lies between them.")
        return DraftPlan({c: obs.overrides[c] for c in (s["reach"], s["fail"])}, preds, seeds, why, statement)

    @staticmethod
    def _threshold(event: Event, obs: Observations, fr: dict[str, float]) -> list[dict]:
        """More than half of the runs reach the threshold on one side; fewer than half on the other."""
        s, crit = event.stats, Reach(**event.stats["criterion"])
        meets = {"above": crit.above} if crit.above is not None else {"below": crit.below}
        return [{"id": "reaches" if direction == "greater" else "stops", "kind": "proportion", "conditions": [cond],
                 "metric": crit.metric, "reduce": reduce_spec(obs, crit.reduce), "meets": meets, "p0": 0.5,
                 "direction": direction,
                 "description": f"{'More' if direction == 'greater' else 'Fewer'} than half of the runs of {cond} "
                                f"reach {crit.words()}.",
                 "min_effect": float(f"{SHRINK * abs(fr[cond] - 0.5):.4g}")}
                for cond, direction in ((s["reach"], "greater"), (s["fail"], "less"))]

    @staticmethod
    def _divergence(event: Event, obs: Observations, fr: dict[str, float]) -> list[dict]:
        """More than half of the runs train without diverging on one side; more than half diverge on the other
        (divergence counted as the outcome: `meets: {diverged: ...}`; the metric is any one the runs log)."""
        s = event.stats
        metrics = obs.metrics()
        metric = next((m for m in ("train_loss", *metrics) if m in metrics and "loss" in m), metrics[0])
        return [{"id": pid, "kind": "proportion", "conditions": [cond], "metric": metric, "reduce": "final",
                 "meets": {"diverged": diverged}, "p0": 0.5, "direction": "greater",
                 "description": f"More than half of the runs of {cond} {words}.",
                 "min_effect": float(f"{SHRINK * abs(fr[cond] - 0.5):.4g}")}
                for pid, cond, diverged, words in (("stable", s["reach"], False, "train without diverging"),
                                                   ("diverges", s["fail"], True, "diverge (a non-finite loss)"))]

    def plot(self, p: BoundaryParams, event: Event, obs: Observations, ax) -> None:
        ax.plot(event.stats["xs"], event.stats["fractions"], marker="o")
        ax.axvspan(min(event.stats["x_reach"], event.stats["x_fail"]), max(event.stats["x_reach"], event.stats["x_fail"]),
                   color="C3", alpha=0.1, label="boundary")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel(event.axis)
        ax.set_ylabel("fraction of runs reaching")
