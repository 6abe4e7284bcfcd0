"""transition: a sharp rise or drop of a metric after a plateau (e.g. delayed generalization).

Per seed, the curve is scanned with two adjacent windows (`window` × the number of evaluations each);
the change point is where the difference of the windows' means is largest in noise units (the noise
level from the median absolute first difference, robust to the step itself). Its p-value under white
noise comes from simulating the same scan on Gaussian noise of the same length. A seed *shows* the
transition when that p is at most `seed_alpha` and the change has the shape of one: before the window
that precedes it lies a plateau at least `min_plateau` of the curve (and one window) long, over which the
curve moved less than `flat` × the jump (from the plateau's end to the window after the change), and
the jump is at least `min_jump` of the curve's range (so a smooth decay is no transition).

The condition's p is the binomial tail of the number of seeds showing it in the majority direction,
each with probability at most `seed_alpha` under noise; the event needs at least `min_fraction` of the
seeds. It reports the step (median over the seeds showing it, with quartiles and range), the level
before and after, and the jump.

Draft: two predictions on fresh seeds in the same condition: the curve crosses the midpoint level only
after half the observed transition step (first_crossing > that step), and it ends beyond the midpoint.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pydantic import Field

from refute.components.events import (SHRINK, DetectorParams, Detector, DraftPlan, EVENTS, Event, Observations, fmt,
                                      slug, t_seeds)

NULL_DRAWS = 2000


class TransitionParams(DetectorParams):
    window: float = Field(0.05, gt=0, lt=0.5, description="each window's length, as a fraction of the evaluations "
                          "(at least 2)")
    min_plateau: float = Field(0.05, ge=0, lt=1, description="the plateau before the change, as a fraction of the "
                               "curve (at least one window)")
    flat: float = Field(0.25, gt=0, description="the plateau moves less than this fraction of the jump")
    min_jump: float = Field(0.5, gt=0, le=1, description="the jump is at least this fraction of the curve's range")
    seed_alpha: float = Field(0.05, gt=0, lt=1, description="a seed shows the change when its own p is below this")
    min_fraction: float = Field(0.5, gt=0, le=1, description="the fraction of seeds that must show it")
    min_points: int = Field(12, ge=6, description="curves with fewer evaluations are not scanned")


def _scan(y: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Window differences d[t] = mean(y[t:t+w]) − mean(y[t−w:t]) for t = w..n−w, and z = d / its noise sd.
    `y` is [B, n]; the noise sd is 1.4826 × MAD of first differences / √2."""
    c = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(y, axis=1)], axis=1)
    n = y.shape[1]
    t = np.arange(w, n - w + 1)
    d = (c[:, t + w] - c[:, t]) / w - (c[:, t] - c[:, t - w]) / w
    diff = np.diff(y, axis=1)
    mad = np.median(np.abs(diff - np.median(diff, axis=1, keepdims=True)), axis=1)
    sigma = 1.4826 * mad / np.sqrt(2)
    scale = sigma[:, None] * np.sqrt(2 / w)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(scale > 0, d / np.where(scale > 0, scale, 1), np.where(d != 0, np.inf, 0.0))
    return d, z


@lru_cache(maxsize=None)
def _null(n: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(7_000_000 + 1000 * n + w)
    _, z = _scan(rng.standard_normal((NULL_DRAWS, n)), w)
    return np.sort(np.abs(z).max(axis=1))


def seed_change(steps: np.ndarray, y: np.ndarray, p: TransitionParams) -> dict | None:
    """The largest change of one seed's curve: its step, levels, p under white noise and whether it has
    the shape of a transition (None for a curve too short to scan)."""
    n = len(y)
    if n < p.min_points or not np.all(np.isfinite(y)):
        return None
    w = max(2, int(round(p.window * n)))
    d, z = _scan(y[None, :], w)
    d, z = d[0], z[0]
    i = int(np.argmax(np.abs(z)))
    t = i + w
    null = _null(n, w)
    k = len(null) - np.searchsorted(null, abs(z[i]) - 1e-12)
    pval = (k + 1) / (len(null) + 1)
    after = float(np.mean(y[t:t + w]))
    # The plateau: the stretch just before the window that precedes the change.
    plateau = max(w, int(round(p.min_plateau * n)))
    end = t - w
    shape = end - plateau >= 0
    before = float(np.mean(y[max(0, end - w):end])) if end > 0 else float(y[0])
    jump = after - before
    if shape:
        start = float(np.mean(y[end - plateau:end - plateau + w]))
        spread = float(np.quantile(y, 0.95) - np.quantile(y, 0.05))
        shape = abs(jump) > 0 and abs(before - start) <= p.flat * abs(jump) and abs(jump) >= p.min_jump * spread
    return {"step": float(steps[t]), "p": float(pval), "jump": jump, "before": before, "after": after,
            "shape": bool(shape)}


@EVENTS.register("transition", TransitionParams)
class Transition(Detector):
    """a sharp rise or drop after a plateau (a step in time), with its step and spread over seeds"""

    def detect(self, p: TransitionParams, obs: Observations) -> list[Event]:
        from scipy import stats

        events = []
        for cond in obs.conditions:
            for metric in obs.metrics():
                changes = [c for c in (seed_change(s, v, p) for s, v in obs.series(cond, metric).values()) if c]
                if len(changes) < 2:
                    continue
                shows = [c for c in changes if c["p"] <= p.seed_alpha and c["shape"]]
                up = [c for c in shows if c["jump"] > 0]
                down = [c for c in shows if c["jump"] < 0]
                shows = up if len(up) >= len(down) else down
                k, n = len(shows), len(changes)
                if k < 2 or k < p.min_fraction * n:
                    continue
                # Both directions were looked at: twice the one-direction tail.
                pval = min(1.0, 2 * float(stats.binom.sf(k - 1, n, p.seed_alpha)))
                steps = np.array([c["step"] for c in shows])
                before = float(np.median([c["before"] for c in shows]))
                after = float(np.median([c["after"] for c in shows]))
                word = "rises" if after > before else "drops"
                q1, med, q3 = np.quantile(steps, [0.25, 0.5, 0.75])
                events.append(Event(
                    id=slug("transition", metric, cond), detector="transition", metric=metric, conditions=[cond],
                    summary=f"{metric} {word} sharply from {fmt(before)} to {fmt(after)} at step {med:.0f} "
                            f"(quartiles {q1:.0f}–{q3:.0f}) after a plateau, in {k} of {n} seeds of {cond}",
                    p=pval,
                    stats={"step": float(med), "step_q1": float(q1), "step_q3": float(q3),
                           "step_min": float(steps.min()), "step_max": float(steps.max()),
                           "step_sd": float(np.std(steps, ddof=1)) if k > 1 else 0.0,
                           "before": before, "after": after, "jump": after - before, "seeds_showing": k,
                           "seeds": n, "budget": obs.budget.get(cond)}))
        return events

    def draft(self, p: TransitionParams, event: Event, obs: Observations) -> DraftPlan:
        s = event.stats
        cond, metric = event.conditions[0], event.metric
        rising = s["after"] > s["before"]
        mid = (s["before"] + s["after"]) / 2
        late = round(s["step"] / 2)
        finals = np.array([v[-1] for _, v in obs.series(cond, metric).values()])
        sd_final = float(np.std(finals, ddof=1)) if len(finals) > 1 else 0.0
        # Effects as seen: the crossing comes step − late after `late`; the final value is |after − mid| past mid.
        late_effect, level_effect = s["step"] - late, abs(s["after"] - mid)
        alpha = 0.05 / 2  # two predictions, corrected (Holm's strictest step)
        seeds = max(t_seeds(SHRINK * late_effect, max(s["step_sd"], 1.0), alpha, 1),
                    t_seeds(SHRINK * level_effect, sd_final, alpha, 1))
        level = float(f"{mid:.4g}")
        preds = [
            {"id": "after-plateau", "kind": "threshold", "condition": cond, "metric": metric,
             "description": f"{metric} first crosses {level:g} only after step {late} (a plateau first).",
             "reduce": {"name": "first_crossing", "threshold": level, "above": rising},
             "test": "t", "threshold": late, "direction": "greater",
             "min_effect": float(f"{SHRINK * late_effect:.4g}")},
            {"id": "then-" + ("rises" if rising else "drops"), "kind": "threshold", "condition": cond,
             "metric": metric, "description": f"{metric} ends {'above' if rising else 'below'} {level:g}.",
             "reduce": "final", "test": "t", "threshold": level, "direction": "greater" if rising else "less",
             "min_effect": float(f"{SHRINK * level_effect:.4g}")},
        ]
        why = [f"Seen: {event.summary}.",
               f"Seeds: {seeds} per condition for 80% power at half the effects seen (crossing {fmt(late_effect)} "
               f"steps after step {late}, sd {fmt(s['step_sd'])}; final level {fmt(level_effect)} past {level:g}, "
               f"sd {fmt(sd_final)})."]
        statement = (f"In condition {cond}, {metric} stays on a plateau and then {'rises' if rising else 'drops'} "
                     f"sharply: it crosses {level:g} only after step {late}, and ends "
                     f"{'above' if rising else 'below'} {level:g}.")
        return DraftPlan({cond: obs.overrides[cond]}, preds, seeds, why, statement)

    def plot(self, p: TransitionParams, event: Event, obs: Observations, ax) -> None:
        for seed, (steps, v) in obs.series(event.conditions[0], event.metric).items():
            ax.plot(steps, v, lw=1, alpha=0.7, label=f"seed {seed}")
        ax.axvline(event.stats["step"], color="k", ls="--", lw=1, label="median step")
        ax.axvspan(event.stats["step_q1"], event.stats["step_q3"], color="k", alpha=0.1)
        ax.set_xlabel("step")
        ax.set_ylabel(event.metric)
