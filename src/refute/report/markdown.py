"""report.md: claim and verdict first, then each prediction's test, the curves, the runs, provenance."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from refute import io
from refute.report import escape
from refute.report.figures import learning_curves

BADGE = {"SUPPORTED": "✅ SUPPORTED", "REFUTED": "❌ REFUTED", "INCONCLUSIVE": "❔ INCONCLUSIVE", "INVALID": "⚠️ INVALID"}


def _num(x) -> str:
    if isinstance(x, str):
        return x
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _p(x) -> str:
    if isinstance(x, str):
        return x
    return "< 1e-4" if x < 1e-4 else f"{x:.4f}"


def _cell(text: str) -> str:
    return escape.inline(text)


def _metrics(spec: dict) -> str:
    x = spec.get("x") or {}
    if isinstance(spec.get("metric"), dict):
        m = spec["metric"]
        points = ", ".join(f"`{k}` (x = {v:g})" for k, v in m["across"].items())
        return f"per run, the {m['statistic']} of y on x across metrics {points}, each"
    if x.get("metrics"):
        return "metrics " + ", ".join(f"`{m}` (x = {v:g})" for m, v in x["metrics"].items())
    return f"metric `{spec['metric']}`"


def _claim(spec: dict) -> str:
    if "direction" in spec:
        return f"predicted direction **{spec['direction']}**, smallest effect of interest δ = {spec['min_effect']:g}"
    if "margin" in spec:
        rel = " × |value|" if spec.get("relative") else ""
        return f"predicted within ±{spec['margin']:g}{rel}" + (f" of {spec['value']:g}" if spec.get("value") is not None else "")
    return "predicted as stated"


def prediction_section(pred: dict, reduced: pd.DataFrame) -> list[str]:
    spec, res, out = pred["spec"], pred["result"], pred["outcome"]
    reduce = spec["reduce"]
    rparams = ", ".join(f"{k}={v}" for k, v in reduce.items() if k != "name")
    lines = [
        f"### `{pred['id']}` — {out['status']}",
        "",
        escape.block(spec.get("description") or ""),
        "",
        f"*{pred['kind']}*: {_metrics(spec)} reduced by `{reduce['name']}`"
        + (f" ({rparams})" if rparams else "")
        + f"; {_claim(spec)}, α = {spec['alpha']:g}.",
        "",
        "| test | statistic | p | effect | estimate | 95% CI | n |",
        "|---|---|---|---|---|---|---|",
        f"| {res['test']} | {_num(res['statistic'])} | {_p(res['p'])} | {_cell(res['effect'])} | "
        f"{_num(res['estimate'])} | [{_num(res['ci'][0])}, {_num(res['ci'][1])}] | "
        + ", ".join(f"{k}: {v}" for k, v in res["n"].items()) + " |",
        "",
    ]
    if res.get("extra"):
        lines += ["Other effect sizes: " + ", ".join(f"{k} = {_num(v)}" for k, v in res["extra"].items()), ""]
    sub = reduced[reduced.prediction == pred["id"]]
    if len(sub):
        lines += ["| condition | mean | sd | min | max | runs | censored |", "|---|---|---|---|---|---|---|"]
        for cond, g in sub.groupby("condition", sort=False):
            v = g.value
            lines.append(f"| {_cell(cond)} | {_num(v.mean())} | {_num(v.std())} | {_num(v.min())} | {_num(v.max())} | "
                         f"{len(v)} | {int(g.censored.sum())} |")
        lines.append("")
    lines += [f"**Why {out['status']}:** {out['reason']}.", "", f"**What would change it:** {out['would_change']}.", ""]
    for note in res.get("notes", []):
        lines.append(f"- note: {note}")
    if res.get("notes"):
        lines.append("")
    return lines


def render(verdict: dict, predictions: list[dict], reduced: pd.DataFrame, figures: list[Path]) -> str:
    prov = verdict["provenance"]
    lines = [
        f"# {escape.inline(verdict['title'])}",
        "",
        f"## Verdict: {BADGE.get(verdict['verdict'], verdict['verdict'])}",
        "",
        escape.block(verdict["statement"], prefix="> "),
        "",
        f"Hypothesis `{verdict['id']}` from {escape.code(prov['hypothesis_file'])}.",
        "",
        "### Why",
        "",
        *[f"- {r}" for r in verdict["reasons"]],
        "",
        "## Predictions",
        "",
    ]
    for pred in predictions:
        lines += prediction_section(pred, reduced)
    if figures:
        lines += ["## Learning curves", ""]
        lines += [f"![{f.stem}](figures/{f.name})" for f in figures]
        lines.append("")
    lines += ["## Runs", "", "| condition | run | seeds | steps | diverged | wall time (s) | device | threads |",
              "|---|---|---|---|---|---|---|---|"]
    for cond, r in verdict["runs"].items():
        diverged = ", ".join(f"seed {s} @ {st}" for s, st in (r.get("diverged") or {}).items()) or "none"
        lines.append(f"| {_cell(cond)} | `{r['hash']}` | {len(r['seeds'])} | {r['steps']} | {diverged} | "
                     f"{_num(r['wall_seconds'])} | {r['device']} | {r['threads']} |")
    lines += [
        "",
        "## Provenance",
        "",
        f"- hypothesis file: {escape.code(prov['hypothesis_file'])}, sha256 `{prov['hypothesis_sha256']}`",
        f"- training wall time (sum over runs): {prov['training_wall_seconds']} s; devices: {', '.join(prov['devices'])}",
        f"- Python {prov['python']} on {prov['platform']}",
        "- packages: " + ", ".join(f"{k} {v}" for k, v in prov["packages"].items() if v),
        f"- analysed at {prov['analysed_at']}",
        "",
    ]
    return "\n".join(lines)


def write_report(hyp_id: str, results: str | Path = "results") -> Path:
    """Write results/<id>/report.md and results/<id>/figures/*.png from the statistics stage's outputs."""
    out_dir = Path(results) / hyp_id
    record = out_dir / "verdict.json"
    verdict = io.read_json(record)
    predictions = io.read_json(io.verify(out_dir / "predictions.json", verdict, record))
    reduced = io.read_parquet(out_dir / "reduced.parquet", verdict, record)
    table = io.read_parquet(out_dir / "observations.parquet", verdict, record)
    figures = learning_curves(table, out_dir / "figures")
    path = out_dir / "report.md"
    io.write_text(path, render(verdict, predictions, reduced, figures))
    return path
