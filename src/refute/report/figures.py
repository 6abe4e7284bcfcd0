"""Learning-curve figures: per metric, the mean over seeds and the min–max band, per condition."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def learning_curves(table: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """One PNG per metric in the tidy table (condition, seed, step, metric, value)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for metric, sub in table.groupby("metric", sort=True):
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
        for cond, g in sub.groupby("condition", sort=False):
            s = g.groupby("step").value.agg(["mean", "min", "max", "count"])
            line, = ax.plot(s.index, s["mean"], label=f"{cond} (n={int(s['count'].max())})")
            ax.fill_between(s.index, s["min"], s["max"], color=line.get_color(), alpha=0.2, linewidth=0)
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
