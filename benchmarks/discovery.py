"""Calibration of the discovery step: do the event detectors find planted events, and does pure noise draft
nothing?

    python benchmarks/discovery.py            # ≈ 30 minutes on 2 cores
    python benchmarks/discovery.py --quick    # small settings: checks that it runs (≈ 1 minute)

Synthetic explorations (refute.components.events.planted: a sweep of five values, two metrics, 40
evaluations, Gaussian noise of sd 1 on a shared smooth decay) go through every registered detector with
its default parameters and the observation stage's correction (Holm across every candidate, α = 0.05),
as `refute run` and `refute discover` would see them:

- recall: an event of each kind planted in metric `a` at several sizes (in noise sds) and seed counts; a
  hit is an event of that kind found in metric `a` (a draft would be written for it);
- stated rates: at one operating point per detector (an effect size and a seed count), many repeats, so
  the recall the README and discovery.md state has an exact 95% interval a few points wide;
- false drafts: explorations of pure noise; the fraction that find any event (and so draft anything),
  with its exact 95% interval; the stated rate is at most 5%.

Writes benchmarks/discovery.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from refute.components.events import EVENTS, holm  # noqa: E402
from refute.components.events.planted import planted  # noqa: E402

KINDS = ["transition", "optimum", "split", "power_law", "boundary"]
REACH = {"reach": [{"metric": "a", "reduce": "max", "above": 10}]}  # the planted boundary's threshold
# Where each detector's recall is stated (detector, effect in noise sds, seeds per condition): cells of the
# grid where it found its event in (nearly) every exploration (split: its best cell).
OPERATING = [("transition", 8.0, 4), ("optimum", 8.0, 4), ("optimum", 4.0, 16), ("split", 8.0, 16),
             ("power_law", 4.0, 8), ("power_law", 2.0, 16), ("boundary", 4.0, 4)]


def found(obs, alpha: float = 0.05) -> list:
    events = []
    for name in EVENTS.names():
        spec = EVENTS.get(name).params.model_validate({"name": name, **(REACH if name == "boundary" else {})})
        events += EVENTS.get(name).impl.detect(spec, obs)
    return [e for e, p in zip(events, holm([e.p for e in events])) if p <= alpha]


def recall(effects: list[float], seeds: list[int], reps: int, rng) -> dict:
    out = {}
    for kind in KINDS:
        for n in seeds:
            for eff in effects:
                hits = sum(hit(kind, eff, n, rng) for _ in range(reps))
                out.setdefault(kind, []).append({"seeds": n, "effect": eff, "hits": hits, "reps": reps,
                                                 "recall": hits / reps})
                print(f"{kind:10s} seeds {n:3d} effect {eff:4g}: {hits}/{reps}", flush=True)
    return out


def hit(kind: str, effect: float, seeds: int, rng) -> bool:
    """Whether an exploration with one planted event of `kind` finds it (in metric `a`, after Holm)."""
    return any(e.detector == kind and e.metric == "a" for e in found(planted(kind, effect, seeds, rng)))


def stated(reps: int, rng) -> list[dict]:
    """Recall at each operating point, with its exact (Clopper–Pearson) 95% interval."""
    from scipy import stats

    out = []
    for kind, eff, n in OPERATING:
        hits = sum(hit(kind, eff, n, rng) for _ in range(reps))
        ci = stats.binomtest(hits, reps).proportion_ci(0.95)
        out.append({"detector": kind, "effect": eff, "seeds": n, "hits": hits, "reps": reps,
                    "recall": hits / reps, "ci95": [ci.low, ci.high]})
        print(f"stated {kind:10s} seeds {n:3d} effect {eff:4g}: {hits}/{reps}", flush=True)
    return out


def false_drafts(explorations: int, seeds: int, rng) -> dict:
    from scipy import stats

    drafted, by_kind = 0, {}
    for _ in range(explorations):
        events = found(planted("none", 0.0, seeds, rng))
        drafted += bool(events)
        for e in events:
            by_kind[e.detector] = by_kind.get(e.detector, 0) + 1
    ci = stats.binomtest(drafted, explorations).proportion_ci(0.95)
    return {"explorations": explorations, "seeds": seeds, "drafted": drafted, "rate": drafted / explorations,
            "ci95": [ci.low, ci.high], "events_by_detector": by_kind}


def figure(rec: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rec), figsize=(3.2 * len(rec), 3.2), dpi=110, sharey=True)
    for ax, (kind, rows) in zip(axes, rec.items()):
        for n in sorted({r["seeds"] for r in rows}):
            pts = [r for r in rows if r["seeds"] == n]
            ax.plot([r["effect"] for r in pts], [r["recall"] for r in pts], marker="o", label=f"{n} seeds")
        ax.set_title(kind)
        ax.set_xlabel("planted effect (noise sds)")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("recall")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(result: dict) -> str:
    rec, fd = result["recall"], result["false_drafts"]
    effects = sorted({r["effect"] for rows in rec.values() for r in rows})
    lines = ["# Discovery calibration", "", f"Settings: {result['settings']}; {result['seconds']:.0f} s.", "",
             "## False drafts on pure noise", "",
             f"{fd['drafted']} of {fd['explorations']} pure-noise explorations ({fd['seeds']} seeds) found any event: "
             f"{100 * fd['rate']:.1f}% (exact 95% CI {100 * fd['ci95'][0]:.1f}–{100 * fd['ci95'][1]:.1f}%); "
             f"stated rate ≤ 5%. Events by detector: {fd['events_by_detector'] or 'none'}.", "",
             "## Stated recall", "",
             "Each detector's recall where it is stated: a planted effect (in noise sds) and seed count at which "
             "the grid below found its event in (nearly) every exploration (for split, which needs many seeds, "
             f"its best cell), repeated {result['settings']['stated_reps']} times. The lower end of the exact 95% "
             "interval is the rate claimed; larger effects and more seeds do at least as well in the grid.", "",
             "| detector | effect | seeds | found | recall | exact 95% CI |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['detector']} | {r['effect']:g} | {r['seeds']} | {r['hits']}/{r['reps']} | {100 * r['recall']:.0f}% | "
              f"{100 * r['ci95'][0]:.0f}–{100 * r['ci95'][1]:.0f}% |" for r in result["stated"]]
    lines += ["",
             "## Recall on planted events", "", f"{result['settings']['reps']} explorations per cell.", "",
             "| detector | seeds | " + " | ".join(f"effect {e:g}" for e in effects) + " |",
             "|---|---|" + "---|" * len(effects)]
    for kind, rows in rec.items():
        for n in sorted({r["seeds"] for r in rows}):
            cells = {r["effect"]: r for r in rows if r["seeds"] == n}
            lines.append(f"| {kind} | {n} | " + " | ".join(f"{cells[e]['hits']}/{cells[e]['reps']}" for e in effects) + " |")
    lines += ["", "![recall](discovery.png)", ""]
    return "\n".join(lines)


def run(quick: bool, out: Path = HERE) -> dict:
    rng = np.random.default_rng(2025)
    if quick:
        effects, seeds, reps, noise, stated_reps = [8.0], [8], 1, 2, 1
    else:
        effects, seeds, reps, noise, stated_reps = [1.0, 2.0, 4.0, 8.0], [4, 8, 16], 20, 300, 100
    t = time.time()
    result = {"settings": {"effects": effects, "seeds": seeds, "reps": reps, "noise_explorations": noise,
                           "stated_reps": stated_reps, "alpha": 0.05, "quick": quick},
              "false_drafts": false_drafts(noise, 8, rng), "recall": recall(effects, seeds, reps, rng),
              "stated": stated(stated_reps, rng)}
    result["seconds"] = time.time() - t
    out.mkdir(parents=True, exist_ok=True)
    (out / "discovery.json").write_text(json.dumps(result, indent=1) + "\n")
    figure(result["recall"], out / "discovery.png")
    (out / "discovery.md").write_text(markdown(result))
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small settings: checks that it runs")
    ap.add_argument("--out", type=Path, default=HERE, help="folder for discovery.{json,md,png} (default: benchmarks/)")
    a = ap.parse_args()
    r = run(a.quick, a.out)
    print(json.dumps(r["false_drafts"]))
