"""Figures: learning curves per metric, and probe outputs over steps and across units; the mean over
seeds and the min–max band, per condition.

A learning curve whose action is over early (a threshold crossed, or the curves settled, within the first
20% of the steps) gets a second panel zoomed to where it happens: on the full run it is squeezed against
the axis."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from refute.components.certificates import is_companion

EARLY = 0.2  # action within this share of the steps is zoomed into
SETTLED = 0.1  # a curve has settled once it stays within this share of its range of its final value


@dataclass(frozen=True)
class Crossing:
    """A prediction's first_crossing of a metric: its threshold and the step each tested run crossed it at."""

    prediction: str
    threshold: float
    steps: tuple[float, ...]


def crossings_of(predictions, reduced: pd.DataFrame) -> dict[str, list[Crossing]]:
    """metric → the crossings predictions read from its curve (from the records: a first_crossing reduction's
    values are steps; runs that never crossed, censored at the budget, are left out)."""
    out: dict[str, list[Crossing]] = {}
    for pred in predictions:
        reduce = pred.spec.reduce
        if reduce.name != "first_crossing" or pred.spec.divide_by is not None:
            continue
        rows = reduced[(reduced.prediction == pred.id) & reduced.used & ~reduced.censored & (reduced.role == "y")]
        for metric, g in rows.groupby("metric", sort=False):
            steps = tuple(float(v) for v in g.value if math.isfinite(v))
            if steps:
                out.setdefault(metric, []).append(Crossing(pred.id, float(reduce.threshold), steps))
    return out


def _log_scale(metric: str, sub: pd.DataFrame) -> bool:
    return metric.endswith("loss") and bool((sub.value > 0).all())


def settled_at(sub: pd.DataFrame, log: bool = False) -> float | None:
    """The step from which every condition's mean curve stays within SETTLED of its range of its final value
    (on the scale it is drawn); None for flat curves."""
    latest = None
    for _, g in sub.groupby("condition", sort=False):
        mean = g.groupby("step", sort=True).value.mean()
        y = np.log10(mean.to_numpy(float)) if log else mean.to_numpy(float)
        ok = np.isfinite(y)
        steps, y = mean.index.to_numpy(float)[ok], y[ok]
        if len(y) < 3 or np.ptp(y) == 0:
            continue
        away = np.abs(y - y[-1]) > SETTLED * np.ptp(y)
        at = steps[np.flatnonzero(away)[-1] + 1] if away.any() else steps[0]
        latest = at if latest is None else max(latest, at)
    return latest


def zoom_window(sub: pd.DataFrame, action: float | None) -> tuple[float, float] | None:
    """The steps to zoom into when the action (a crossing, or the curves settling) is early: twice as far as
    it; None when it is not early, or too few steps were logged before it for a zoom to show anything."""
    steps = np.unique(sub.step.to_numpy(float))
    if action is None or len(steps) < 8 or (steps <= action).sum() < 4:
        return None  # too few logged steps before the action for a zoom to show more than the full run
    first, last = steps[0], steps[-1]
    if action - first > EARLY * (last - first):
        return None
    return (first, float(first + 2 * (action - first)))


def curve_figure(metric: str, sub: pd.DataFrame, crossings: list[Crossing] = ()):
    """The learning curve of one metric (mean over seeds, band = min–max, per condition), each crossing a
    prediction reads drawn as its threshold, and a zoomed panel when the action is early."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = _log_scale(metric, sub)
    action = max((s for c in crossings for s in c.steps), default=None) if crossings else settled_at(sub, log)
    window = zoom_window(sub, action)
    if window is None:
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
        axes = [ax]
    else:
        fig, axes = plt.subplots(2, 1, figsize=(6, 5.6), dpi=110, gridspec_kw={"height_ratios": [3, 2]})
    for i, ax in enumerate(axes):
        for cond, g in sub.groupby("condition", sort=False):
            _band(ax, g if i == 0 else g[g.step <= window[1]], "step", cond, markers=i == 1)
        for c in crossings:
            ax.axhline(c.threshold, color="k", ls=":", lw=1, gid=f"crossing:{c.prediction}",
                       label=f"{c.prediction}: first crossing of {c.threshold:g}" if i == 0 else None)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.set_ylabel(metric)
    axes[0].set_title(f"{metric}: mean over seeds, band = min–max")
    axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("step")
    if window is not None:
        axes[1].set_xlim(*window)
        axes[1].set_gid("zoom")
        axes[1].set_title(f"zoomed: steps {window[0]:g}–{window[1]:g}, where "
                          f"{'the crossing happens' if crossings else 'the curves change'}", fontsize=9)
        axes[0].axvspan(*window, color="0.5", alpha=0.08, lw=0)
    fig.tight_layout()
    return fig


def learning_curves(table: pd.DataFrame, out_dir: str | Path,
                    crossings: dict[str, list[Crossing]] | None = None) -> list[Path]:
    """One PNG per metric in the tidy table (condition, seed, step, metric, value); `crossings`: per metric,
    the first crossings predictions read from it (crossings_of). An estimator's health certificates
    (refute.components.certificates) are not curves of their own."""
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    table = table[~table.metric.map(is_companion)]
    for metric, sub in table.groupby("metric", sort=True):
        fig = curve_figure(metric, sub, (crossings or {}).get(metric, []))
        path = out_dir / f"{metric}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name).strip("_")


def _band(ax, g: pd.DataFrame, x: str, label: str, markers: bool = True) -> None:
    """Mean over seeds against `x`, band = min–max; points marked on short series unless `markers` is off."""
    s = g.groupby(x, sort=True).value.agg(["mean", "min", "max", "count"])
    line, = ax.plot(s.index, s["mean"], marker="o" if markers and len(s) < 12 else None, markersize=3,
                    label=f"{label} (n={int(s['count'].max())})")
    ax.fill_between(s.index, s["min"], s["max"], color=line.get_color(), alpha=0.2, linewidth=0)


def probe_figures(probes: pd.DataFrame, out_dir: str | Path) -> dict[str, list[Path]]:
    """Per probe: each summary output over training steps (when probed at several steps), and each
    per-unit output across units at the last step; mean over seeds, band = min–max, per condition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, list[Path]] = {}
    probes = probes[~probes.metric.map(is_companion)]
    for (probe, metric, site, per_unit), sub in probes.groupby(
            ["probe", "metric", "site", probes.unit != ""], sort=False):
        if not per_unit and sub.step.nunique() < 2:
            continue  # one step: the report's table says it all
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
        where = f"@{site}" if site else ""
        if per_unit:
            last = sub[sub.step == sub.step.max()].assign(unit_no=lambda d: pd.to_numeric(d.unit, errors="coerce"))
            for cond, g in last.groupby("condition", sort=False):
                _band(ax, g, "unit_no", cond)
            ax.set_xlabel(f"unit of {site}" if site else "unit")
            ax.set_title(f"{probe}: {metric}{where} at step {int(sub.step.max())}", fontsize=10)
            name = f"probe-{probe}-{metric}-{site}-units"
        else:
            for cond, g in sub.groupby("condition", sort=False):
                _band(ax, g, "step", cond)
            ax.set_xlabel("step")
            ax.set_title(f"{probe}/{metric}{where} over training", fontsize=10)
            name = f"probe-{probe}-{metric}-{site}"
        ax.set_ylabel(metric)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"{_safe(name)}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.setdefault(probe, []).append(path)
    return paths
