"""Self-contained HTML pages: a hypothesis's report.html and the agenda's index.html.

One file each, figures embedded as base64 PNG, no scripts and nothing fetched, so a page can be mailed
or archived as it is. Jinja2 escapes every value (autoescape), so text from hypothesis files is shown as
text, never interpreted as markup.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

from refute import io
from refute.report.markdown import (_claim, _counts, _metrics, _n, _num, _p, analysis_lines, power_statement,
                                    preregistration_lines, read_lineage)


@lru_cache(maxsize=None)
def environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("refute.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=_num, p=_p, seeds=lambda s: f"{len(s)}")
    return env


def render_page(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def plain(markdown: str | None) -> str:
    """A sentence report.md writes in markdown, as plain text (Jinja escapes it)."""
    return (markdown or "").replace("**", "").replace("`", "").lstrip("> ").strip()


def condition_summary(reduced: pd.DataFrame, pred_id: str) -> tuple[list[str], list[dict]]:
    """The values a prediction read, grouped as report.md groups them (condition, and role, metric, x where
    they vary): mean, sd, min, max of the tested values; runs, tested, failed, censored counts."""
    sub = reduced[reduced.prediction == pred_id]
    if not len(sub):
        return [], []
    keys = [k for k in ("condition", "role", "metric", "x") if k in sub.columns and sub[k].notna().any()]
    keys = [k for k in keys if k == "condition" or k == "x" or sub[k].nunique() > 1]
    used = sub.used if "used" in sub.columns else pd.Series(True, index=sub.index)
    failed = sub.failed if "failed" in sub.columns else pd.Series(False, index=sub.index)
    rows = []
    for key, g in sub.groupby(keys, sort=False, dropna=False):
        v = g.value[used.loc[g.index]]
        rows.append({"key": list(key if isinstance(key, tuple) else (key,)), "mean": v.mean(), "sd": v.std(),
                     "min": v.min(), "max": v.max(), "runs": len(g), "tested": int(used.loc[g.index].sum()),
                     "failed": int(failed.loc[g.index].sum()), "censored": int(g.censored.sum())})
    return keys, rows


def prediction_context(pred: dict, reduced: pd.DataFrame, failed_runs: str) -> dict:
    """What report.md says about one prediction, as values for the template."""
    spec, res, out = pred["spec"], pred["result"], pred["outcome"]
    keys, rows = condition_summary(reduced, pred["id"])
    judged = res.get("ci_judged")
    show_judged = bool(judged) and res.get("ci_judged_level", 0.95) != res.get("ci_level", 0.95)
    return {
        **pred,
        "metrics": plain(_metrics(spec)),
        "claim": plain(_claim(spec)),
        "reduce_params": ", ".join(f"{k}={v}" for k, v in spec["reduce"].items() if k != "name"),
        "correction": res.get("correction", "none"),
        "p_adjusted": res.get("p_adjusted", res["p"]),
        "n": _n(res["n"]),
        "judged": (f"Judged against the {100 * res['ci_judged_level']:.4g}% CI [{_num(judged[0])}, {_num(judged[1])}] "
                   "(widened for the number of predictions).") if show_judged else "",
        "keys": keys, "rows": rows,
        "counts": plain(_counts(res.get("counts"), failed_runs)),
        "power": plain(power_statement(res.get("power"))) if out["status"] == "inconclusive" else "",
    }


def probe_sections(verdict: dict, probes: pd.DataFrame | None, figures: Path) -> list[dict]:
    """Per probe in the verdict: its parameters, its summary outputs at the last probed step (as report.md
    shows them) and its figures (report.md's figures/probe-<id>-*.png)."""
    from refute.components.probes import address
    from refute.components.probes import PROBES

    out = []
    for spec in verdict.get("probes", []):
        pid = spec["id"]
        rows, steps = [], []
        sub = probes[(probes.probe == pid) & (probes.unit == "")] if probes is not None else None
        if sub is not None and len(sub):
            steps = sorted(int(s) for s in sub.step.unique())
            for (metric, site, cond), g in sub.groupby(["metric", "site", "condition"], sort=False):
                v = g[g.step == g.step.max()].value
                rows.append({"output": address(pid, metric, site), "condition": cond, "mean": v.mean(),
                             "sd": v.std(), "min": v.min(), "max": v.max(), "seeds": len(v)})
        out.append({"id": pid, "name": spec["name"], "help": PROBES.get(spec["name"]).help,
                    "params": ", ".join(f"{k}={v}" for k, v in spec["params"].items() if v is not None),
                    "steps": steps, "rows": rows,
                    "figures": [{"name": f.stem, "src": data_uri(f)} for f in sorted(figures.glob(f"probe-{pid}-*.png"))]})
    return out


def render_report(verdict: dict, predictions: list[dict], reduced: pd.DataFrame, figures: list[Path],
                  lineage: dict | None = None, probes: list[dict] | None = None) -> str:
    failed_runs = (verdict.get("analysis") or {}).get("failed_runs", "invalid")
    preds = [prediction_context(p, reduced, failed_runs) for p in predictions]
    # The pre-registration and analysis-plan sentences are report.md's, as plain text.
    registration = [plain(line) for line in preregistration_lines(verdict) if plain(line)]
    plan = [plain(line) for line in analysis_lines(verdict, len(predictions)) if plain(line)]
    return render_page("report.html.j2", v=verdict, predictions=preds, lineage=lineage, probes=probes or [],
                       registration=registration, plan=plan,
                       figures=[{"name": f.stem, "src": data_uri(f)} for f in figures])


def write_html_report(hyp_id: str, results: str | Path = "results") -> Path:
    """Write results/<id>/report.html from the statistics stage's outputs and the figures report.md made."""
    out_dir = Path(results) / hyp_id
    verdict = json.loads((out_dir / "verdict.json").read_text())
    predictions = json.loads((out_dir / "predictions.json").read_text())
    reduced = pd.read_parquet(out_dir / "reduced.parquet")
    metrics = pd.read_parquet(out_dir / "observations.parquet", columns=["metric"]).metric.unique()
    # Learning curves are figures/<metric>.png for the logged metrics (probe outputs have a '/').
    figures = [f for m in sorted(metrics) if "/" not in m and (f := out_dir / "figures" / f"{m}.png").exists()]
    probes = pd.read_parquet(out_dir / "probes.parquet") if (out_dir / "probes.parquet").exists() else None
    path = out_dir / "report.html"
    io.write_text(path, render_report(verdict, predictions, reduced, figures, read_lineage(verdict, results),
                                      probe_sections(verdict, probes, out_dir / "figures")))
    return path
