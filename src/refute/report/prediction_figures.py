"""Each prediction's figure: exactly what its test read and what it decided.

Left, the values the test read: one dot per run, by condition (the conditions the prediction's record says it
read), or along its x axis with the fitted line or law; the threshold, value or success line it is measured
against. Right, the effect the test estimated, with its CI (and the CI it was judged on, when widened for the
number of predictions) and the region where the prediction would hold: beyond δ, or inside the margin or
the exponent range. Drawn from the statistics stage's typed records alone (predictions.json, reduced.parquet).

Artists carry a gid (`runs:<condition>`, `fit`, `ci`, `claim`, ...) so tests can check what is drawn.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from refute.components.predictions import Directional, Interval, PredictionSpec
from refute.components.predictions._axis import AlongAxis, FromParam
from refute.components.predictions.compare import Compare
from refute.components.predictions.equivalence import Equivalence
from refute.components.predictions.no_trend import NoTrend
from refute.components.predictions.power_law import PowerLaw
from refute.components.predictions.proportion import Proportion
from refute.components.predictions.threshold import Threshold
from refute.components.predictions.trend import Trend
from refute.stats.records import PredictionRecord

INF = math.inf
HOLDS_COLOUR = "#1a7f37"
STATUS_COLOUR = {"holds": HOLDS_COLOUR, "contradicted": "#c62828", "inconclusive": "#b26a00"}  # as the badges


@dataclass(frozen=True)
class Claim:
    """Where a prediction's effect must lie for it to hold, on the scale its test reports the effect."""

    null: float | None  # no effect: 0, or 1 for a ratio (None: the claim has no null, e.g. an exponent)
    spans: list[tuple[float, float]] = field(default_factory=list)  # it holds when the CI lies inside one


def claim_of(spec: PredictionSpec) -> Claim:
    """Where `spec`'s effect must lie for it to hold: beyond δ in its direction (a directional kind), inside its
    bounds (an interval kind: equivalence, no_trend, power_law), on the scale its test reports (a ratio's)."""
    if isinstance(spec, Interval):
        if isinstance(spec, Equivalence) and spec.scale == "ratio":  # reported back-transformed, as a ratio
            f = 1 + spec.margin
            return Claim(1.0, [(1 / f, f)])
        return Claim(None if isinstance(spec, PowerLaw) else 0.0, [spec.bounds()])
    if isinstance(spec, Directional):
        if isinstance(spec, Compare) and spec.scale == "ratio":
            null, up, down = 1.0, spec.min_ratio, 1 / spec.min_ratio
        else:
            null, up, down = 0.0, spec.min_effect, -spec.min_effect
        if spec.direction == "two-sided" and up == null:
            return Claim(null)  # any effect but none: nothing to shade
        return Claim(null, {"greater": [(up, INF)], "less": [(-INF, down)],
                            "two-sided": [(-INF, down), (up, INF)]}[spec.direction])
    return Claim(0.0)


def _wrap(text: str, width: int = 58) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _order(pred: PredictionRecord, rows: pd.DataFrame) -> list[str]:
    """The groups to show: the conditions the record says the prediction read, in its order, then any other
    group the rows hold (an optimum's rows are per group of the conditions it read)."""
    present = list(dict.fromkeys(rows.condition))
    return [c for c in pred.conditions if c in present] + [c for c in present if c not in pred.conditions]


def _references(ax, spec: PredictionSpec) -> None:
    """The line the values are measured against, where the kind has one."""
    if isinstance(spec, Threshold):
        ax.axhline(spec.threshold, color="k", ls="--", lw=1, label=f"threshold {spec.threshold:g}", gid="threshold")
    elif isinstance(spec, Equivalence) and spec.value is not None:
        half = spec.half_width()
        ax.axhline(spec.value, color="k", ls="--", lw=1, label=f"value {spec.value:g}", gid="value")
        ax.axhspan(spec.value - half, spec.value + half, color=HOLDS_COLOUR, alpha=0.12, lw=0,
                   label=f"±{half:.3g}", gid="margin")
    elif isinstance(spec, Proportion) and spec.meets.diverged is not None:
        # A run's value is whether it diverged (1) or not (0): the axis says so, a success is one of the two.
        ax.set_yticks([0, 1], ["did not diverge", "diverged"])
        ax.set_ylim(-0.3, 1.3)
    elif isinstance(spec, Proportion):
        at = spec.meets.above if spec.meets.above is not None else spec.meets.below
        ax.axhline(at, color="k", ls="--", lw=1, label=f"success: {spec.meets.words()}", gid="meets")


def _by_condition(ax, pred: PredictionRecord, rows: pd.DataFrame) -> None:
    """One dot per run, per condition; a bar at the mean of those tested; censored runs hollow."""
    groups = _order(pred, rows)
    labels, censored_label = [], "censored (at the step budget)"
    for i, cond in enumerate(groups):
        g = rows[rows.condition == cond].sort_values("seed")
        shown = g[g.used & np.isfinite(g.value)]
        jitter = np.linspace(-0.12, 0.12, len(shown)) if len(shown) > 1 else np.zeros(len(shown))
        plain = ~shown.censored.to_numpy(bool)
        ax.scatter(i + jitter[plain], shown.value[plain], s=22, color=f"C{i}", zorder=3, gid=f"runs:{cond}")
        if (~plain).any():
            ax.scatter(i + jitter[~plain], shown.value[~plain], s=22, facecolors="none", edgecolors=f"C{i}",
                       zorder=3, gid=f"censored:{cond}", label=censored_label)
            censored_label = None  # one legend entry
        if len(shown):
            ax.hlines(shown.value.mean(), i - 0.28, i + 0.28, color=f"C{i}", lw=2, gid=f"mean:{cond}")
        left_out = len(g) - len(shown)
        labels.append(f"{cond}\nn={len(shown)}" + (f" (+{left_out} not tested)" if left_out else ""))
    ax.set_xticks(range(len(groups)), labels, fontsize=8)
    ax.set_xlim(-0.6, len(groups) - 0.4)


def _fit_curve(pred: PredictionRecord, u: np.ndarray, w: np.ndarray, grid: np.ndarray) -> np.ndarray | None:
    """The fitted line or law on `grid` (the test's own scale: log x, log value where it fits on logs), or
    None where the test fits none (a rank correlation)."""
    spec, res = pred.spec, pred.result
    slope = res.estimate
    if not math.isfinite(slope) or "Spearman" in res.test or not len(u):
        return None
    if isinstance(spec, PowerLaw) and spec.form == "saturating":
        e, a = res.extra.get("asymptote"), res.extra.get("scale")
        if e is None or a is None:
            return None
        return np.log(e + a * np.exp(slope * grid))
    # Least squares lines pass through the centre of their points (the mixed model's, near it).
    return w.mean() + slope * (grid - u.mean())


def _along_axis(ax, pred: PredictionRecord, rows: pd.DataFrame) -> None:
    """The tested values against x, one dot per run and x, the mean at each x, and the fitted line or law."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    spec = pred.spec
    shown = rows[rows.used & np.isfinite(rows.value) & np.isfinite(rows.x)]
    loglog = isinstance(spec, PowerLaw)
    log_x = loglog or (isinstance(spec, (Trend, NoTrend)) and spec.log_x)
    ax.scatter(shown.x, shown.value, s=16, alpha=0.7, color="C0", zorder=3, gid="runs", label="runs")
    means = shown.groupby("x").value.mean()
    ax.plot(means.index, means.to_numpy(), color="C0", lw=1, marker="_", ms=14, gid="means", label="mean at each x")
    if len(shown) and (not log_x or (shown.x > 0).all()) and (not loglog or (shown.value > 0).all()):
        to_u = (np.log10 if not loglog else np.log) if log_x else (lambda v: v)
        u = to_u(shown.x.to_numpy(float))
        w = np.log(shown.value.to_numpy(float)) if loglog else shown.value.to_numpy(float)
        grid = np.linspace(u.min(), u.max(), 50)
        curve = _fit_curve(pred, u, w, grid)
        if curve is not None:
            xs = (10 ** grid if not loglog else np.exp(grid)) if log_x else grid
            ax.plot(xs, np.exp(curve) if loglog else curve, color="C3", lw=1.6, gid="fit",
                    label=f"fit: {pred.result.effect.split(' (')[0]} = {pred.result.estimate:.3g}")
    plain_numbers = FuncFormatter(lambda v, _: f"{v:g}")
    if log_x:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(plain_numbers)
        ax.xaxis.set_minor_formatter(plain_numbers if np.ptp(np.log10(shown.x)) < 1 else NullFormatter())
    if loglog:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(plain_numbers)
    x = spec.x if isinstance(spec, AlongAxis) else None
    ax.set_xlabel(x.param if isinstance(x, FromParam) else "x (each metric's)", fontsize=9)


def _paired_roles(ax, rows: pd.DataFrame) -> None:
    """A correlation's two measured values per run, one against the other."""
    used = rows[rows.used & np.isfinite(rows.value)]
    wide = used.pivot_table(index=["condition", "seed"], columns="role", values="value")
    if {"x", "y"} <= set(wide.columns):
        wide = wide.dropna()
        ax.scatter(wide["x"], wide["y"], s=18, color="C0", zorder=3, gid="runs")
    ax.set_xlabel("x (per run)", fontsize=9)


def _effect(ax, pred: PredictionRecord) -> None:
    """The estimate, its CI (and the CI it was judged on), the null and where the prediction holds."""
    res, claim = pred.result, claim_of(pred.spec)
    if not math.isfinite(res.estimate):
        ax.text(0.5, 0.5, "no estimate:\n" + _wrap("; ".join(res.notes) or "the test could not be computed", 40),
                ha="center", va="center", fontsize=8, transform=ax.transAxes)
        ax.set_axis_off()
        return
    # The axis spans the estimate, both CIs, the null and the finite ends of where it holds.
    points = [res.estimate, *res.ci, *res.ci_judged] + ([claim.null] if claim.null is not None else [])
    finite = [p for p in points + [b for span in claim.spans for b in span] if math.isfinite(p)]
    lo, hi = min(finite), max(finite)
    pad = 0.15 * (hi - lo) or 0.5 * max(abs(lo), 1e-9)
    lo, hi = lo - pad, hi + pad
    for k, (a, b) in enumerate(claim.spans):
        ax.axvspan(max(a, lo), min(b, hi), color=HOLDS_COLOUR, alpha=0.15, lw=0, gid="claim",
                   label="holds if the CI lies here" if k == 0 else None)
    if claim.null is not None:
        ax.axvline(claim.null, color="0.4", ls="--", lw=1, gid="null", label=f"no effect ({claim.null:g})")

    def interval(y, ci, level, **style):
        """A CI as a bar; an end it does not bound (an exact test's, say) as an arrow at the axis's edge."""
        open_ends = [v for v in ci if not math.isfinite(v)]
        ax.hlines(y, max(ci[0], lo), min(ci[1], hi), **style,
                  label=f"{100 * level:.4g}% CI" + (" (judged)" if y else "") + (", unbounded" if open_ends else ""))
        for v in open_ends:
            ax.plot([hi if v > 0 else lo], [y], ">" if v > 0 else "<", color=style["color"], ms=7, clip_on=False)

    if res.ci_judged_level != res.ci_level:  # widened for the number of predictions: what contradicts it
        interval(-0.3, res.ci_judged, res.ci_judged_level, color="0.3", lw=2, gid="ci-judged")
    interval(0, res.ci, res.ci_level, color="k", lw=4, gid="ci")
    ax.plot([res.estimate], [0], "o", color="white", mec="k", ms=8, zorder=4, gid="estimate", label="estimate")
    ax.set_xlim(lo, hi)
    ax.set_ylim(-1, 1.3)
    ax.set_yticks([])
    ax.set_xlabel(_wrap(res.effect, 40), fontsize=8)
    ax.set_title(f"{pred.outcome.status}: estimate {res.estimate:.4g}, {100 * res.ci_level:.4g}% CI "
                 f"[{res.ci[0]:.4g}, {res.ci[1]:.4g}]", fontsize=9, color=STATUS_COLOUR[pred.outcome.status])
    ax.legend(fontsize=7, loc="upper left", frameon=False, ncol=2)


def draw(pred: PredictionRecord, rows: pd.DataFrame):
    """The figure of one prediction from its record and its rows of reduced.parquet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (values, effect) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=110, gridspec_kw={"width_ratios": [3, 2]})
    if (rows.role == "x").any():
        _paired_roles(values, rows)
    elif np.isfinite(rows.x.to_numpy(float)).any():
        _along_axis(values, pred, rows)
    else:
        _by_condition(values, pred, rows)
    _references(values, pred.spec)
    metrics = ", ".join(dict.fromkeys(rows.metric)) or "—"
    reduce = pred.spec.reduce.model_dump(mode="json")["name"]
    # A label across metrics names them all: the title says what it is, the axis that it is per run.
    values.set_ylabel(f"{metrics if len(metrics) <= 32 else 'value per run'} ({reduce})", fontsize=9)
    values.set_title(_wrap(f"{pred.id}: " + "".join(p.text for p in pred.measures()), 70), fontsize=9)
    values.grid(alpha=0.3)
    if values.get_legend_handles_labels()[0]:
        values.legend(fontsize=7, frameon=False)
    _effect(effect, pred)
    fig.tight_layout()
    return fig


def prediction_figures(predictions: list[PredictionRecord], reduced: pd.DataFrame,
                       out_dir: str | Path) -> dict[str, Path]:
    """figures/prediction-<id>.png for every prediction: prediction id → its figure."""
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for pred in predictions:
        fig = draw(pred, reduced[reduced.prediction == pred.id])
        paths[pred.id] = out_dir / f"prediction-{pred.id}.png"
        fig.savefig(paths[pred.id])
        plt.close(fig)
    return paths
