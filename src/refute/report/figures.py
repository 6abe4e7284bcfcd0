"""Figures: learning curves per metric, and probe outputs over steps and across units; the mean over
seeds and the min–max band, per condition."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from refute.components.certificates import is_companion


def learning_curves(table: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """One PNG per metric in the tidy table (condition, seed, step, metric, value); an estimator's health
    certificates (refute.components.certificates) are not curves of their own."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    table = table[~table.metric.map(is_companion)]
    for metric, sub in table.groupby("metric", sort=True):
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
        for cond, g in sub.groupby("condition", sort=False):
            _band(ax, g, "step", cond, markers=False)
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        if metric.endswith("loss") and (sub.value > 0).all():
            ax.set_yscale("log")
        ax.set_title(f"{metric}: mean over seeds, band = min–max")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
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
