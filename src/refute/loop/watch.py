"""`refute watch <id>`: how far each of a hypothesis's runs is, and its curves so far.

A finished run is read from its metrics.parquet; a running one from its progress file (refute.training.progress);
both give the same tidy rows (condition, seed, step, metric, value), so a curve drawn mid-run is the start of
the one the report will draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from refute.layout import METRICS, PROGRESS, RUN_RECORD, Layout
from refute.spec.plan import Plan
from refute.training import progress as progress_file
from refute.training.progress import Progress

DONE, TRAINING, WAITING = "done", "training", "not started"


@dataclass
class RunState:
    condition: str
    run: str  # hash
    state: str
    step: int
    steps: int
    loss: float | None
    eta_s: float | None
    curves: pd.DataFrame  # seed, step, metric, value


def _progress(run_dir: Path) -> list[Progress]:
    return [p for path in [run_dir / PROGRESS, *sorted(run_dir.glob(f"seeds-*/{PROGRESS}"))]
            if (p := progress_file.read(path)) is not None and p.started is not None]


def _curves(parts: list[Progress]) -> pd.DataFrame:
    rows = [(seed, step, metric, v) for p in parts for metric, points in p.curves.items()
            for step, values in points for seed, v in zip(p.seeds, values) if v is not None]
    return pd.DataFrame(rows, columns=["seed", "step", "metric", "value"])


def states(plan: Plan, results: str | Path) -> list[RunState]:
    out = []
    for cond, h in plan.runs.items():
        run_dir = Layout(results).run_dir(h)
        steps = plan.conditions[cond].train.steps
        if (run_dir / RUN_RECORD).exists():
            m = pd.read_parquet(run_dir / METRICS)
            loss = m[m.metric == "train_loss"]
            last = loss[loss.step == loss.step.max()].value.mean() if len(loss) else None
            out.append(RunState(cond, h, DONE, steps, steps, last, 0.0, m))
            continue
        parts = _progress(run_dir)
        if not parts:
            out.append(RunState(cond, h, WAITING, 0, steps, None, None, _curves([])))
            continue
        # A split run: its chunks train side by side; the slowest says when it ends.
        slow = min(parts, key=lambda p: p.fraction)
        etas = [p.eta_s for p in parts if p.eta_s is not None]
        out.append(RunState(cond, h, TRAINING, slow.step, slow.steps, slow.loss, max(etas) if etas else None,
                            _curves(parts)))
    return out


def table(found: list[RunState]) -> str:
    from refute.loop.live import clock

    metrics = sorted({m for s in found for m in s.curves.metric.unique()})
    header = ["condition", "run", "state", "step", "loss", "ETA", *metrics]
    lines = []
    for s in found:
        latest = s.curves[s.curves.step == s.curves.step.max()] if len(s.curves) else s.curves
        means = latest.groupby("metric").value.mean() if len(latest) else {}
        lines.append([s.condition, s.run, s.state, f"{s.step}/{s.steps}",
                      "—" if s.loss is None else f"{s.loss:.4g}",
                      "—" if s.state != TRAINING else clock(s.eta_s),
                      *(f"{means[m]:.4g}" if m in means else "—" for m in metrics)])
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *lines])


def plot(plan: Plan, found: list[RunState], path: str | Path) -> Path:
    """Every metric's curves so far, one panel per metric, the mean over seeds per condition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = sorted({m for s in found for m in s.curves.metric.unique()})
    cols = min(3, max(1, len(metrics)))
    rows = max(1, -(-len(metrics) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        for s in found:
            c = s.curves[s.curves.metric == metric]
            if len(c):
                mean = c.groupby("step").value.mean()
                ax.plot(mean.index, mean.values, label=f"{s.condition} ({s.state})")
        ax.set_title(metric)
        ax.set_xlabel("step")
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    if metrics:
        axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{plan.id}: curves so far")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
