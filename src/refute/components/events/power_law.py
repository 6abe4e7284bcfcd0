"""power_law: a reduced value follows a power of a swept value (a trend on log–log axes), with the fitted
exponent, and the simple exponent it settles at when one fits (a quantity at a level the settings predict,
e.g. sharpness ≈ 2/lr: exponent −1).

Along each line of conditions that differ only in one positive swept value (at least three values, every
reduced value positive), each seed's least-squares slope of log(value) on log(x) is its exponent; the seeds'
exponents are independent, so a one-sample t-test over seeds (two-sided, H0: exponent 0) gives p, valid under
noise that does not depend on x. The event reports the mean exponent, its 95% CI and the simplest exponent
in `simple` inside that CI, if any.

Draft: the same line of conditions on fresh seeds and one power_law prediction: the exponent lies within
`tolerance` × |exponent| of the simple exponent (or of the one seen, when none fits); seeds from the TOST
power of that interval with the spread of exponents seen.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from refute.components.events import (DetectorParams, Detector, DraftPlan, EVENTS, Event, Observations, band, fmt,
                                      reduce_spec, seeds_for, slug)


class PowerLawParams(DetectorParams):
    min_seeds: int = Field(3, ge=3, description="each condition needs this many seeds (paired by seed)")
    simple: list[float] = Field([-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2],
                                description="exponents a law may settle at, simplest first by |value|")
    tolerance: float = Field(0.25, gt=0, lt=1, description="the draft's interval: exponent ± tolerance × |exponent|")


def seed_exponents(xs: list[float], groups: dict[str, dict[int, float]], conds: list[str]) -> np.ndarray:
    """Each seed's log–log slope across the line (seeds measured in every condition)."""
    seeds = sorted(set.intersection(*(set(groups[c]) for c in conds)))
    lx = np.log(np.asarray(xs, float))
    out = []
    for s in seeds:
        ly = np.log([groups[c][s] for c in conds])
        out.append(np.polyfit(lx, ly, 1)[0])
    return np.asarray(out)


@EVENTS.register("power_law", PowerLawParams)
class PowerLaw(Detector):
    """a power law across a swept axis, with its fitted exponent (and the simple one it settles at)"""

    def _groups(self, obs: Observations, conds: list[str], metric: str, red: str) -> dict[str, dict[int, float]]:
        r = obs.reduced
        out = {}
        for c in conds:
            sub = r[(r.condition == c) & (r.metric == metric) & (r.reduce == red)]
            sub = sub[~sub.seed.isin(obs.failed.get(c, set())) & np.isfinite(sub.value)]
            out[c] = dict(zip(sub.seed.astype(int), sub.value.astype(float)))
        return out

    def detect(self, p: PowerLawParams, obs: Observations) -> list[Event]:
        from scipy import stats

        events = []
        for line in obs.lines(3):
            if min(line.xs) <= 0:
                continue
            for metric, red in obs.reduced_pairs():
                groups = self._groups(obs, line.conditions, metric, red)
                if any(v <= 0 for g in groups.values() for v in g.values()):
                    continue
                b = seed_exponents(line.xs, groups, line.conditions)
                if len(b) < p.min_seeds or np.ptp(b) == 0:
                    continue
                res = stats.ttest_1samp(b, 0.0)
                ci = res.confidence_interval(0.95)
                mean = float(b.mean())
                fits = [e for e in sorted(p.simple, key=abs) if ci.low <= e <= ci.high]
                simple = fits[0] if fits else None
                events.append(Event(
                    id=slug("power-law", metric, red, line.axis.rsplit(".", 1)[-1], *line.fixed.values()),
                    detector="power_law", metric=metric, reduce=red, conditions=list(line.conditions),
                    axis=line.axis,
                    summary=f"{metric} ({red}) ∝ {line.axis}^{mean:.2f} {line.label()} (95% CI {ci.low:.2f} to "
                            f"{ci.high:.2f} over {len(b)} seeds)"
                            + (f", consistent with exponent {simple:g}" if simple is not None else ""),
                    p=float(res.pvalue),
                    stats={"exponent": mean, "ci": [float(ci.low), float(ci.high)], "sd": float(np.std(b, ddof=1)),
                           "simple": simple, "xs": line.xs, "seeds": len(b)}))
        return events

    def draft(self, p: PowerLawParams, event: Event, obs: Observations) -> DraftPlan:
        from refute.components.predictions import power

        s = event.stats
        centre = s["simple"] if s["simple"] is not None else s["exponent"]
        half = p.tolerance * abs(centre)
        low, high = float(f"{centre - half:.4g}"), float(f"{centre + half:.4g}")
        # TOST on the seeds' exponents: the true exponent taken at the interval's centre.
        sd = max(s["sd"], 1e-6)
        seeds = seeds_for(lambda n: power.tost_power(half, lambda k: sd / math.sqrt(k), lambda k: k - 1, n, 0.05))
        pred = {"id": "power-law", "kind": "power_law", "metric": event.metric, "x": {"param": event.axis},
                "conditions": list(event.conditions), "reduce": reduce_spec(obs, event.reduce),
                "description": f"{event.metric} ∝ {event.axis}^b with b in [{low:g}, {high:g}].",
                "exponent": {"low": low, "high": high}, "test": "mixed"}
        why = [f"Seen: {event.summary}.",
               f"Seeds: {seeds} per condition for 80% power of the interval test (TOST) with the seeds' exponents' "
               f"sd {fmt(s['sd'])}."]
        statement = (f"{event.metric} ({event.reduce}) scales as a power of {event.axis}, with an exponent between "
                     f"{low:g} and {high:g}" + (f" (about {centre:g})." if s["simple"] is not None else "."))
        return DraftPlan({c: obs.overrides[c] for c in event.conditions}, [pred], seeds, why, statement)

    def plot(self, p: PowerLawParams, event: Event, obs: Observations, ax) -> None:
        groups = [obs.values(c, event.metric, event.reduce) for c in event.conditions]
        band(ax, event.stats["xs"], groups, f"{event.metric} ({event.reduce})", log=True)
        ax.set_yscale("log")
        xs = np.asarray(event.stats["xs"])
        mid = np.exp(np.mean([np.log(g).mean() for g in groups]))
        fit = mid * (xs / np.exp(np.log(xs).mean())) ** event.stats["exponent"]
        ax.plot(xs, fit, "k--", lw=1, label=f"exponent {event.stats['exponent']:.2f}")
        ax.set_xlabel(event.axis)
        ax.set_ylabel(event.metric)
