"""report.md: claim and verdict first, then each prediction's test, the curves, the runs, provenance."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from refute import io
from refute.report import escape
from refute.loop.lineage import lineage_of
from refute.report.figures import learning_curves, probe_figures

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
        what = "metrics " + ", ".join(f"`{m}` (x = {v:g})" for m, v in x["metrics"].items())
    else:
        what = f"metric `{spec['metric']}`"
    d = spec.get("divide_by")
    if d:
        base = d["param"] if d["power"] == 1 else f"{d['param']}^{d['power']:g}"
        scaled = base if d["times"] == 1 else f"{d['times']:g} × {base}"
        what += f" ÷ ({scaled})"
    return what


def _claim(spec: dict) -> str:
    if spec.get("kind") == "power_law":
        e = spec["exponent"]
        lo = "−∞" if e.get("low") is None else f"{e['low']:g}"
        hi = "∞" if e.get("high") is None else f"{e['high']:g}"
        return f"exponent predicted in [{lo}, {hi}]"
    if "direction" in spec:
        return f"predicted direction **{spec['direction']}**, smallest effect of interest δ = {spec['min_effect']:g}"
    if "margin" in spec:
        rel = " × |value|" if spec.get("relative") else ""
        return f"predicted within ±{spec['margin']:g}{rel}" + (f" of {spec['value']:g}" if spec.get("value") is not None else "")
    return "predicted as stated"


def _n(n: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in n.items())


def power_statement(plan: dict | None) -> str | None:
    """One sentence on the seeds a prediction needs, from its power analysis."""
    if not plan:
        return None
    need = plan.get("seeds_for_80")
    need_text = (f"80% power needs **{need}** {plan['unit']}" if need is not None
                 else "even 100,000 seeds would not give 80% power")
    return (f"**Power:** with {plan['n']} {plan['unit']}, the test had {100 * plan['power_at_n']:.0f}% power to detect "
            f"an effect of {_num(plan['effect'])} ({plan['basis']}); {need_text} "
            f"(α = {plan['alpha']:.3g}; {plan['method']}).")


def _counts(c: dict | None, plan: str) -> str | None:
    if not c:
        return None
    parts = [f"{c['runs']} run values", f"{c['used']} tested"]
    if c["failed"]:
        parts.append(f"**{c['failed']} failed (diverged)** — " +
                     ("counted against the prediction" if plan == "against" else "set aside; the verdict is INVALID"))
    if c["no_value"]:
        parts.append(f"{c['no_value']} with no value (left out)")
    if c["censored"]:
        parts.append(f"{c['censored']} censored at the step budget")
    return "Runs: " + "; ".join(parts) + "."


def prediction_section(pred: dict, reduced: pd.DataFrame, failed_runs: str = "invalid") -> list[str]:
    spec, res, out = pred["spec"], pred["result"], pred["outcome"]
    reduce = spec["reduce"]
    rparams = ", ".join(f"{k}={v}" for k, v in reduce.items() if k != "name")
    corr = res.get("correction", "none")
    p_adj = res.get("p_adjusted", res["p"])
    lines = [
        f"### `{pred['id']}` — {out['status']}",
        "",
        escape.block(spec.get("description") or ""),
        "",
        f"*{pred['kind']}*: {_metrics(spec)} reduced by `{reduce['name']}`"
        + (f" ({rparams})" if rparams else "")
        + f"; {_claim(spec)}, α = {spec['alpha']:g}"
        + (f"; prior stated in advance: {spec['prior']:g}." if spec.get("prior") is not None else "."),
        "",
        f"| test | statistic | p | p adjusted ({corr}) | effect | estimate | 95% CI | n |",
        "|---|---|---|---|---|---|---|---|",
        f"| {res['test']} | {_num(res['statistic'])} | {_p(res['p'])} | {_p(p_adj)} | {_cell(res['effect'])} | "
        f"{_num(res['estimate'])} | [{_num(res['ci'][0])}, {_num(res['ci'][1])}] | {_n(res['n'])} |",
        "",
    ]
    judged = res.get("ci_judged")
    if judged and res.get("ci_judged_level", 0.95) != res.get("ci_level", 0.95):
        lines += [f"Judged against the {100 * res['ci_judged_level']:.4g}% CI [{_num(judged[0])}, {_num(judged[1])}] "
                  "(widened for the number of predictions).", ""]
    if res.get("extra"):
        lines += ["Other figures: " + ", ".join(f"{k} = {_num(v)}" for k, v in res["extra"].items()), ""]
    sub = reduced[reduced.prediction == pred["id"]]
    if len(sub):
        keys = [k for k in ("condition", "role", "metric", "x") if k in sub.columns and sub[k].notna().any()]
        if "role" in keys and sub.role.nunique() == 1:
            keys.remove("role")
        if "metric" in keys and sub.metric.nunique() == 1:
            keys.remove("metric")
        used = sub.used if "used" in sub.columns else pd.Series(True, index=sub.index)
        failed = sub.failed if "failed" in sub.columns else pd.Series(False, index=sub.index)
        head = " | ".join(keys)
        lines += [f"| {head} | mean | sd | min | max | runs | tested | failed | censored |",
                  "|" + "---|" * (len(keys) + 8)]
        for key, g in sub.groupby(keys, sort=False, dropna=False):
            key = key if isinstance(key, tuple) else (key,)
            v = g.value[used.loc[g.index]]
            lines.append("| " + " | ".join(_cell(_num(k)) for k in key) + f" | {_num(v.mean())} | {_num(v.std())} | "
                         f"{_num(v.min())} | {_num(v.max())} | {len(g)} | {int(used.loc[g.index].sum())} | "
                         f"{int(failed.loc[g.index].sum())} | {int(g.censored.sum())} |")
        lines.append("")
    lines += [f"**Why {out['status']}:** {out['reason']}.", "", f"**What would change it:** {out['would_change']}.", ""]
    counts = _counts(res.get("counts"), failed_runs)
    if counts:
        lines += [counts, ""]
    if out["status"] == "inconclusive" and power_statement(res.get("power")):
        lines += [power_statement(res.get("power")), ""]
    for note in res.get("notes", []):
        lines.append(f"- note: {note}")
    if res.get("notes"):
        lines.append("")
    return lines


def lineage_section(lin: dict | None) -> list[str]:
    """Where this hypothesis comes from: the parent, how the verdict moved, and what changed."""
    if not lin:
        return []
    before, after = lin["movement"]["verdict"]
    up = f" (which refines `{lin['grandparent']}`)" if lin.get("grandparent") else ""
    lines = ["## Lineage", "",
             f"Refines [`{lin['parent']}`](../{lin['parent']}/report.md){up}: {_cell(lin['parent_title'])}.", "",
             f"Verdict moved: **{before} → {after}**.", ""]
    moves = lin["movement"]["predictions"]
    if moves:
        lines += ["| prediction | parent | this |", "|---|---|---|"]
        lines += [f"| `{m['id']}` | {m['before']} | {m['after']} |" for m in moves]
        lines.append("")
    for key, what in (("added", "New predictions"), ("dropped", "Predictions dropped")):
        if lin["movement"][key]:
            lines += [f"{what}: " + ", ".join(f"`{k}`" for k in lin["movement"][key]) + ".", ""]
    if lin["changes"] is None:
        lines.append("The parent's spec was not recorded with its verdict; rerun its statistics to see what changed.")
    elif lin["changes"]:
        lines += ["What changed from the parent's spec:", "", "| field | parent | this |", "|---|---|---|"]
        lines += [f"| `{c['field']}` | {_cell(c['before'])} | {_cell(c['after'])} |" for c in lin["changes"]]
    else:
        lines.append("The spec is the same as the parent's.")
    return [*lines, ""]


def alternatives_section(alternatives: list[dict]) -> list[str]:
    """Each rival explanation and whether the distinguishing predictions ruled it out."""
    if not alternatives:
        return []
    lines = ["## Alternative explanations", "", "| alternative | status | distinguished by | why |", "|---|---|---|---|"]
    for a in alternatives:
        by = ", ".join(f"`{p}` ({s})" for p, s in a["predictions"].items())
        conds = ", ".join(f"`{c}`" for c in a["conditions"])
        lines.append(f"| **{a['id']}**: {_cell(a['explanation'])} | {a['status']} | {by} on {conds} | {_cell(a['why'])} |")
    ruled = [a["id"] for a in alternatives if a["status"] == "ruled out"]
    left = [a["id"] for a in alternatives if a["status"] != "ruled out"]
    lines += ["", f"Ruled out: {', '.join(ruled) or 'none'}. Still standing: {', '.join(left) or 'none'}.", ""]
    return lines


def analysis_lines(verdict: dict, k: int) -> list[str]:
    plan = verdict.get("analysis")
    if not plan:
        return []
    corr = {"holm": "Holm (family-wise error)", "bh": "Benjamini–Hochberg (false discovery rate)",
            "none": "none"}[plan["correction"]]
    failed = ("a failed (diverged) run makes the verdict INVALID" if plan["failed_runs"] == "invalid"
              else "a failed (diverged) run counts against the predictions that read it")
    lines = [f"Analysis plan: correction across the {k} prediction(s): {corr if k > 1 else 'none needed'}; {failed}.", ""]
    if verdict.get("failures"):
        lines += [f"Failed runs ({len(verdict['failures'])}), all shown below and in each prediction's counts:",
                  *[f"- {f}" for f in verdict["failures"]], ""]
    return lines


def preregistration_lines(verdict: dict) -> list[str]:
    reg = verdict.get("preregistration")
    if not reg:
        return []
    if verdict.get("post_hoc"):
        return [
            f"> ⚠️ **Post hoc.** The predictions or analysis plan were edited after results existed (registered "
            f"{reg['registered_at']}, plan sha256 `{reg['sha256'][:12]}`; now `{reg['current_sha256'][:12]}`). "
            "This verdict tests a plan made after seeing data; treat it as exploratory.",
            ">",
            *[f"> - {c}" for c in reg["changed"]],
            "",
        ]
    return [f"Pre-registered: the plan was recorded {reg['registered_at']} (sha256 `{reg['sha256'][:12]}`) "
            "and has not changed since.", ""]


def probe_section(verdict: dict, probes: pd.DataFrame, figures: dict[str, list[Path]]) -> list[str]:
    """Per probe: its parameters, a table of its summary outputs at the last probed step, its figures."""
    from refute.components.probes import address
    from refute.components.probes import PROBES

    lines = ["## Probes", ""]
    for spec in verdict.get("probes", []):
        pid = spec["id"]
        params = ", ".join(f"{k}={v}" for k, v in spec["params"].items() if v is not None)
        lines += [f"### `{pid}` — {spec['name']}", "", f"*{PROBES.get(spec['name']).help}* ({params})", ""]
        sub = probes[(probes.probe == pid) & (probes.unit == "")]
        if not len(sub):
            lines += ["No values (every seed diverged, or the probe was not run).", ""]
            continue
        steps = sorted(sub.step.unique())
        lines += [f"Probed at step{'s' if len(steps) > 1 else ''} {', '.join(str(int(s)) for s in steps)}; "
                  "the table shows the last.", "",
                  "| output (metric in predictions) | condition | mean | sd | min | max | seeds |",
                  "|---|---|---|---|---|---|---|"]
        for (metric, site, cond), g in sub.groupby(["metric", "site", "condition"], sort=False):
            v = g[g.step == g.step.max()].value
            lines.append(f"| `{address(pid, metric, site)}` | {cond} | {_num(v.mean())} | {_num(v.std())} | "
                         f"{_num(v.min())} | {_num(v.max())} | {len(v)} |")
        lines.append("")
        lines += [f"![{f.stem}](figures/{f.name})" for f in figures.get(pid, [])]
        lines.append("")
    return lines


def render(verdict: dict, predictions: list[dict], reduced: pd.DataFrame, figures: list[Path],
           probes: pd.DataFrame | None = None, probe_figs: dict[str, list[Path]] | None = None,
           lineage: dict | None = None) -> str:
    prov = verdict["provenance"]
    lines = [
        f"# {escape.inline(verdict['title'])}",
        "",
        *(preregistration_lines(verdict) if verdict.get("post_hoc") else []),
        f"## Verdict: {BADGE.get(verdict['verdict'], verdict['verdict'])}" + (" (post hoc)" if verdict.get("post_hoc") else ""),
        "",
        escape.block(verdict["statement"], prefix="> "),
        "",
        f"Hypothesis `{verdict['id']}` from {escape.code(prov['hypothesis_file'])}.",
        "",
        *([] if verdict.get("post_hoc") else preregistration_lines(verdict)),
        *analysis_lines(verdict, len(predictions)),
        "### Why",
        "",
        *[f"- {r}" for r in verdict["reasons"]],
        "",
        *lineage_section(lineage),
        *alternatives_section(verdict.get("alternatives", [])),
        "## Predictions",
        "",
    ]
    failed_runs = (verdict.get("analysis") or {}).get("failed_runs", "invalid")
    for pred in predictions:
        lines += prediction_section(pred, reduced, failed_runs)
    if figures:
        lines += ["## Learning curves", ""]
        lines += [f"![{f.stem}](figures/{f.name})" for f in figures]
        lines.append("")
    if verdict.get("probes") and probes is not None:
        lines += probe_section(verdict, probes, probe_figs or {})
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
    has_probes = (out_dir / "probes.parquet").exists()
    probes = io.read_parquet(out_dir / "probes.parquet", verdict, record) if has_probes else None
    # Probe outputs sit in the observations too (for predictions); they get their own section.
    figures = learning_curves(table[~table.metric.str.contains("/", regex=False)], out_dir / "figures")
    probe_figs = probe_figures(probes, out_dir / "figures") if probes is not None and len(probes) else {}
    path = out_dir / "report.md"
    io.write_text(path, render(verdict, predictions, reduced, figures, probes, probe_figs,
                               read_lineage(verdict, results)))
    return path


def read_lineage(verdict: dict, results: str | Path) -> dict | None:
    """The lineage of a hypothesis from its parent's verdict.json (the report job's input when it refines one)."""
    parent = verdict.get("refines")
    if not parent:
        return None
    return lineage_of(io.read_json(Path(results) / parent / "verdict.json"), verdict)
