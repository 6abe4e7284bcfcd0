"""split: the seeds of one condition fall in two groups (bimodality of a reduced value), by a dip test.

Per condition and reduced metric (at least `min_seeds` seeds), Hartigan's dip test (refute.components.events.dip,
p from the uniform: valid under any unimodal law it is least favourable for). The two groups are the best
split of the sorted values into two (the largest between-group share of variance); each must hold at
least `min_group` seeds, and the gap between them at least `min_gap` of the values' typical size. The event
reports the fraction in each mode and the gap between them.

Draft: the same condition on fresh seeds; two proportion predictions (exact binomial): more than `p0` of the
seeds land at or above the gap's upper edge, and more than `p0` at or below its lower edge.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from refute.components.events import (SHRINK, DetectorParams, Detector, DraftPlan, EVENTS, Event, Observations, fmt,
                                      reduce_spec, seeds_for, slug)
from refute.components.events.dip import dip_test


class SplitParams(DetectorParams):
    min_seeds: int = Field(8, ge=4, description="conditions with fewer seeds are not tested")
    min_group: int = Field(2, ge=1, description="each group holds at least this many seeds")
    p0: float = Field(0.05, gt=0, lt=0.5, description="the draft claims more than this fraction in each mode")
    min_gap: float = Field(0.01, ge=0, description="the gap between the groups is at least this fraction of the "
                           "values' typical size (median |value|), so rounding-level differences of converged runs "
                           "are no split")


def two_groups(v: np.ndarray) -> int:
    """The split index of sorted `v` (groups v[:k], v[k:]) with the largest between-group sum of squares."""
    n = len(v)
    c = np.cumsum(v)
    k = np.arange(1, n)
    left, right = c[k - 1] / k, (c[-1] - c[k - 1]) / (n - k)
    between = k * (n - k) / n * (left - right) ** 2
    return int(k[np.argmax(between)])


@EVENTS.register("split", SplitParams)
class Split(Detector):
    """seeds that split into two groups (dip test), with the fraction in each"""

    def detect(self, p: SplitParams, obs: Observations) -> list[Event]:
        events = []
        for cond in obs.conditions:
            for metric, red in obs.reduced_pairs():
                v = np.sort(obs.values(cond, metric, red))
                if len(v) < p.min_seeds or np.ptp(v) == 0:
                    continue
                d, pval = dip_test(v)
                k = two_groups(v)
                if min(k, len(v) - k) < p.min_group:
                    continue
                lo, hi = float(v[k - 1]), float(v[k])
                if hi - lo < p.min_gap * float(np.median(np.abs(v))):
                    continue
                events.append(Event(
                    id=slug("split", metric, red, cond), detector="split", metric=metric, reduce=red,
                    conditions=[cond],
                    summary=f"{metric} ({red}) splits the seeds of {cond} in two: {k} of {len(v)} at or below "
                            f"{fmt(lo)} (median {fmt(float(np.median(v[:k])))}), {len(v) - k} at or above {fmt(hi)} "
                            f"(median {fmt(float(np.median(v[k:])))}); dip {d:.3f}",
                    p=pval,
                    stats={"dip": d, "low_edge": lo, "high_edge": hi, "n_low": k, "n_high": len(v) - k,
                           "fraction_high": (len(v) - k) / len(v), "seeds": len(v)}))
        return events

    def draft(self, p: SplitParams, event: Event, obs: Observations) -> DraftPlan:
        from refute.components.predictions import power

        s = event.stats
        cond = event.conditions[0]
        gap = s["high_edge"] - s["low_edge"]
        # The gap's central half: a seed beyond these edges is clearly in one mode.
        lo_cut, hi_cut = (float(f"{s['low_edge'] + gap / 4:.4g}"), float(f"{s['high_edge'] - gap / 4:.4g}"))
        preds, seeds = [], 0
        for side, frac, meets in (("high", s["fraction_high"], {"above": hi_cut}),
                                  ("low", 1 - s["fraction_high"], {"below": lo_cut})):
            effect = SHRINK * max(frac - p.p0, 0.0)
            p1 = p.p0 + effect
            seeds = max(seeds, seeds_for(lambda n: power.binomial_power(p.p0, p1, n, 0.05 / 2, "greater"))
                        if effect > 0 else 0)
            preds.append({"id": f"{side}-mode", "kind": "proportion", "conditions": [cond], "metric": event.metric,
                          "reduce": reduce_spec(obs, event.reduce), "meets": meets, "p0": p.p0,
                          "description": f"More than {p.p0:g} of the seeds end in the {side} mode "
                                         f"({'≥' if side == 'high' else '≤'} {meets.get('above', meets.get('below')):g}).",
                          "direction": "greater", "min_effect": float(f"{effect:.4g}")})
        why = [f"Seen: {event.summary}.",
               f"Seeds: {seeds} for 80% power (exact binomial) at half the excess over {p.p0:g} seen in each mode."]
        statement = (f"In condition {cond}, {event.metric} ({event.reduce}) falls in two groups across seeds: some "
                     f"seeds end at or above {hi_cut:g}, others at or below {lo_cut:g}.")
        return DraftPlan({cond: obs.overrides[cond]}, preds, seeds, why, statement)

    def plot(self, p: SplitParams, event: Event, obs: Observations, ax) -> None:
        v = np.sort(obs.values(event.conditions[0], event.metric, event.reduce))
        ax.hist(v, bins=max(5, len(v) // 2), color="C0", alpha=0.7)
        ax.plot(v, np.zeros_like(v), "|", color="k", markersize=12)
        ax.axvspan(event.stats["low_edge"], event.stats["high_edge"], color="C3", alpha=0.1, label="gap")
        ax.set_xlabel(f"{event.metric} ({event.reduce})")
        ax.set_ylabel("seeds")
