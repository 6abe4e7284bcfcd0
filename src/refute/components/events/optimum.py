"""optimum: a reduced value is best inside a swept range (a non-monotonic response), with the argmin or
argmax and its uncertainty.

Along each line of conditions that differ only in one swept value (at least three values), the value
with the highest (and, separately, the lowest) mean over seeds is found. An interior one is an optimum
when it beats both ends of the range: one-sided Welch tests against each end, the larger p counting
(both must hold), multiplied by the number of interior values and by two (maximum and minimum were
both looked for), so the p is valid under pure noise. Its uncertainty is a bootstrap over seeds
(`bootstrap` resamples of each condition's seeds): how often each swept value is the best.

Draft: the three conditions (low end, optimum, high end) on fresh seeds, and two predictions: the optimum
beats each end by at least half the difference seen (Welch).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from refute.components.events import (SHRINK, DetectorParams, Detector, DraftPlan, EVENTS, Event, Observations, band,
                                      fmt, reduce_spec, slug, t_seeds)


class OptimumParams(DetectorParams):
    bootstrap: int = Field(1000, ge=100, le=100_000, description="bootstrap resamples of the seeds")
    min_seeds: int = Field(3, ge=2, description="each condition needs this many seeds")


def _welch_greater(a: np.ndarray, b: np.ndarray) -> float:
    """One-sided p that mean(a) > mean(b): Welch; for two groups without spread, the exact permutation p of
    complete separation (1 / C(n_a + n_b, n_a)) when a lies wholly above b."""
    import math

    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return 1.0
    if np.var(a) == 0 and np.var(b) == 0:
        return 1 / math.comb(len(a) + len(b), len(a)) if a.min() > b.max() else 1.0
    return float(stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue)


@EVENTS.register("optimum", OptimumParams)
class Optimum(Detector):
    """an optimum inside a swept range (argmin/argmax), with its bootstrap uncertainty over seeds"""

    def detect(self, p: OptimumParams, obs: Observations) -> list[Event]:
        events = []
        for line in obs.lines(3):
            for metric, red in obs.reduced_pairs():
                groups = [obs.values(c, metric, red) for c in line.conditions]
                if min(map(len, groups)) < p.min_seeds:
                    continue
                means = np.array([g.mean() for g in groups])
                for kind, sign in (("maximum", 1.0), ("minimum", -1.0)):
                    best = int(np.argmax(sign * means))
                    if best in (0, len(groups) - 1):
                        continue
                    pv = max(_welch_greater(sign * groups[best], sign * groups[0]),
                             _welch_greater(sign * groups[best], sign * groups[-1]))
                    pval = min(1.0, pv * (len(groups) - 2) * 2)
                    share = self._bootstrap(p, groups, sign, seed=len(events))
                    x = line.xs[best]
                    margin = min(sign * (means[best] - means[0]), sign * (means[best] - means[-1]))
                    events.append(Event(
                        id=slug(kind, metric, red, line.axis.rsplit(".", 1)[-1], *line.fixed.values()),
                        detector="optimum", metric=metric, reduce=red, conditions=list(line.conditions),
                        axis=line.axis,
                        summary=f"{metric} ({red}) has a {kind} inside the swept range {line.label()}: "
                                f"{fmt(means[best])} at {line.axis} = {x:g}, {fmt(margin)} "
                                f"{'above' if sign > 0 else 'below'} the nearer end; the best value in "
                                f"{100 * share[best]:.0f}% of bootstrap resamples",
                        p=pval,
                        stats={"kind": kind, "x": x, "best": line.conditions[best], "value": float(means[best]),
                               "margin": float(margin), "xs": line.xs, "means": means.tolist(),
                               "bootstrap_share": share.tolist(),
                               "x_interval": self._interval(line.xs, share)}))
        return events

    def _bootstrap(self, p: OptimumParams, groups: list[np.ndarray], sign: float, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        counts = np.zeros(len(groups))
        means = np.stack([rng.choice(g, size=(p.bootstrap, len(g))).mean(axis=1) for g in groups], axis=1)
        np.add.at(counts, np.argmax(sign * means, axis=1), 1)
        return counts / p.bootstrap

    @staticmethod
    def _interval(xs: list[float], share: np.ndarray) -> list[float]:
        """The smallest span of swept values holding 90% of the bootstrap's best values."""
        order = np.argsort(-share)
        kept, total = [], 0.0
        for i in order:
            kept.append(i)
            total += share[i]
            if total >= 0.9:
                break
        return [xs[min(kept)], xs[max(kept)]]

    def draft(self, p: OptimumParams, event: Event, obs: Observations) -> DraftPlan:
        s = event.stats
        sign = 1.0 if s["kind"] == "maximum" else -1.0
        low, high, best = event.conditions[0], event.conditions[-1], s["best"]
        g = {c: obs.values(c, event.metric, event.reduce) for c in (low, best, high)}
        preds, seeds, why = [], 0, [f"Seen: {event.summary}."]
        for end in (low, high):
            effect = sign * (g[best].mean() - g[end].mean())
            sd = float(np.sqrt((np.var(g[best], ddof=1) + np.var(g[end], ddof=1)) / 2))
            seeds = max(seeds, t_seeds(SHRINK * effect, sd, 0.05 / 2, 2))
            preds.append({"id": slug("beats", "low" if end == low else "high", "end"), "kind": "compare",
                          "conditions": [best, end], "metric": event.metric, "reduce": reduce_spec(obs, event.reduce),
                          "description": f"{event.metric} is {'higher' if sign > 0 else 'lower'} at {best} than at {end}.",
                          "test": "welch", "direction": "greater" if sign > 0 else "less",
                          "min_effect": float(f"{SHRINK * effect:.4g}")})
            why.append(f"Against {end}: {fmt(effect)} seen (pooled sd {fmt(sd)}).")
        why.append(f"Seeds: {seeds} per condition for 80% power at half the differences seen.")
        statement = (f"{event.metric} ({event.reduce}) has a {s['kind']} inside the range of {event.axis}: it is "
                     f"{'higher' if sign > 0 else 'lower'} at {event.axis} = {s['x']:g} than at either end "
                     f"({low}, {high}).")
        return DraftPlan({c: obs.overrides[c] for c in (low, best, high)}, preds, seeds, why, statement)

    def plot(self, p: OptimumParams, event: Event, obs: Observations, ax) -> None:
        groups = [obs.values(c, event.metric, event.reduce) for c in event.conditions]
        band(ax, event.stats["xs"], groups, f"{event.metric} ({event.reduce})",
             log=min(event.stats["xs"]) > 0 and max(event.stats["xs"]) / min(event.stats["xs"]) > 20)
        ax.axvline(event.stats["x"], color="k", ls="--", lw=1)
        lo, hi = event.stats["x_interval"]
        ax.axvspan(lo, hi, color="k", alpha=0.08, label="90% of bootstrap optima")
        ax.set_xlabel(event.axis)
        ax.set_ylabel(event.metric)
