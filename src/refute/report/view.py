"""The report of one hypothesis as a view model: every sentence, table cell and figure both reports show,
built once from the statistics stage's records; report.md.j2 and report.html.j2 only lay it out.

Text is a list of `Span`s so each template can style it its own way: plain text written by this code, user
text (titles, descriptions, condition names: escaped by the templates), names shown as code, emphasis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

import pandas as pd

from refute.components.predictions import PredictionSpec
from refute.components.predictions.across_metrics import AcrossMetrics
from refute.components.predictions.optimum import Optimum
from refute.components.probes import PROBES, address
from refute.loop.lineage import lineage_of
from refute.stats import records
from refute.stats.records import Analysis, PowerPlan, PredictionRecord, VerdictRecord

BADGE = {"SUPPORTED": "✅ SUPPORTED", "REFUTED": "❌ REFUTED", "INCONCLUSIVE": "❔ INCONCLUSIVE", "INVALID": "⚠️ INVALID"}
CORRECTION = {"holm": "Holm (family-wise error)", "bh": "Benjamini–Hochberg (false discovery rate)", "none": "none"}


class Span(NamedTuple):
    """A piece of text: "" written by refute, "user" text from a hypothesis file, "code" a name, "strong"
    emphasis."""

    text: str
    style: Literal["", "user", "code", "strong"] = ""


Text = list[Span]


def plain(text: str) -> Text:
    return [Span(text)]


def user(text: str) -> Text:
    return [Span(text, "user")]


def num(x) -> str:
    if isinstance(x, str):
        return x
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def p_value(x: float) -> str:
    return "< 1e-4" if x < 1e-4 else f"{x:.4f}"


@dataclass
class Figure:
    name: str
    path: Path


@dataclass
class Table:
    header: list[str]
    rows: list[list[Text]]


@dataclass
class PredictionView:
    id: str
    status: str
    kind: str
    description: str
    # "<measures> reduced by `name` (params); <claim>, α = ..; prior ..." in pieces
    measures: Text
    reduce: str
    reduce_params: str
    claim: Text
    alpha: str
    prior: str | None
    correction: str
    test: list[str]  # test, statistic, p, p adjusted, effect, estimate, CI, n
    judged: str | None
    extra: str | None
    values: Table | None
    reason: str
    would_change: str
    counts: Text | None
    power: Text | None
    notes: list[str]
    seen: list[str] = field(default_factory=list)  # runs read whose data existed before the seal: not scored
    figure: Figure | None = None  # what it tests, drawn (refute.report.prediction_figures)
    curves: list[Figure] = field(default_factory=list)  # the learning curves of the metrics it reads


@dataclass
class LineageView:
    parent: str
    parent_title: str
    grandparent: str | None
    before: str
    after: str
    moves: list[tuple[str, str, str]]
    added: list[str]
    dropped: list[str]
    changes: list[tuple[str, str, str]]  # field, parent's value, this one's


@dataclass
class AlternativeView:
    id: str
    explanation: str
    status: str
    predictions: list[tuple[str, str]]
    conditions: list[str]
    why: str


@dataclass
class ProbeView:
    id: str
    name: str
    help: str
    params: str
    steps: list[int]
    rows: list[list[str]]  # output, condition, mean, sd, min, max, seeds
    figures: list[Figure]


@dataclass
class RunView:
    condition: str
    hash: str
    seeds: int
    steps: int
    diverged: str
    wall_seconds: str
    device: str
    threads: str


@dataclass
class RoundsView:
    """A sequential hypothesis's e-value path: one row per round analysed (refute.stats.sequential)."""

    summary: str
    header: list[str]
    rows: list[list[str]]


def rounds_view(v: VerdictRecord) -> RoundsView | None:
    s = v.sequential
    if s is None:
        return None
    preds = list(s.rounds[0].e_holds) if s.rounds else []
    header = ["round", "new seeds", *[f"{p}: e against failure / against claim" for p in preds]]
    rows = [[str(r.round), "; ".join(f"{c}: {', '.join(map(str, seeds))}" for c, seeds in r.seeds.items()),
             *[f"{num(r.e_holds[p])} / {num(r.e_contradicts[p])} ({r.status[p]})" for p in preds]]
            for r in s.rounds]
    summary = (f"Sequential: {len(s.rounds)} of {s.rounds_planned} planned round(s) analysed "
               f"({s.seeds_per_round} fresh seeds a round after the first, at most {s.max_seeds} per condition; every "
               f"round sealed up front); stopped because {s.stopped}. Test: {s.test}; a prediction is decided the "
               "first time an e-value reaches 1/α (α/k for k predictions), which keeps its error rate at α however "
               "many rounds are looked at.")
    return RoundsView(summary, header, rows)


@dataclass
class ReportView:
    id: str
    title: str
    statement: str
    verdict: str
    badge: str
    post_hoc: bool
    hypothesis_file: str
    registration: list[Text]  # the pre-registration sentence, or the post-hoc warning's lines
    changed: list[str]  # what changed since registration (post hoc)
    plan: Text | None
    failures: list[str]
    reasons: list[str]
    lineage: LineageView | None
    alternatives: list[AlternativeView]
    ruled_out: str
    standing: str
    predictions: list[PredictionView]
    figures: list[Figure]
    probes: list[ProbeView] | None
    runs: list[RunView]
    provenance: dict[str, str] = field(default_factory=dict)
    rounds: RoundsView | None = None


# ------------------------------------------------------------------------------------------ predictions

def _counts(c, failed_runs: str) -> Text:
    text: Text = [Span(f"Runs: {c.runs} run values; {c.used} tested")]
    if c.failed:
        text += [Span("; "), Span(f"{c.failed} failed (diverged)", "strong"),
                 Span(" — " + ("counted against the prediction" if failed_runs == "against"
                               else "set aside; the verdict is INVALID"))]
    if c.no_value:
        text.append(Span(f"; {c.no_value} with no value (left out)"))
    if c.censored:
        text.append(Span(f"; {c.censored} censored at the step budget"))
    return [*text, Span(".")]


def power_statement(plan: PowerPlan) -> Text:
    """One sentence on the seeds a prediction needs, from its power analysis."""
    need = ([Span("80% power needs "), Span(str(plan.seeds_for_80), "strong"), Span(f" {plan.unit}")]
            if plan.seeds_for_80 is not None else [Span("even 100,000 seeds would not give 80% power")])
    return [Span("Power:", "strong"),
            Span(f" with {plan.n} {plan.unit}, the test had {100 * plan.power_at_n:.0f}% power to detect an effect "
                 f"of {num(plan.effect)} ({plan.basis}); "),
            *need, Span(f" (α = {plan.alpha:.3g}; {plan.method}).")]


def value_table(reduced: pd.DataFrame, pred_id: str) -> Table | None:
    """The values a prediction read, by condition (and role, metric, x where they vary): mean, sd, min, max
    of the tested values; runs, tested, failed, censored counts."""
    sub = reduced[reduced.prediction == pred_id]
    if not len(sub):
        return None
    keys = [k for k in ("condition", "role", "metric", "x") if k in sub.columns and sub[k].notna().any()]
    keys = [k for k in keys if k in ("condition", "x") or sub[k].nunique() > 1]
    rows = []
    for key, g in sub.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        v = g.value[g.used]
        rows.append([user(num(k)) for k in key] +
                    [plain(num(x)) for x in (v.mean(), v.std(), v.min(), v.max())] +
                    [plain(str(x)) for x in (len(g), int(g.used.sum()), int(g.failed.sum()), int(g.censored.sum()))])
    return Table([*keys, "mean", "sd", "min", "max", "runs", "tested", "failed", "censored"], rows)


def metrics_read(spec: PredictionSpec, rows: pd.DataFrame) -> list[str]:
    """The logged metrics a prediction reduced (`rows`: its rows of reduced.parquet), whose learning curves
    belong beside its figure; across metrics and optimum rows carry a label, the spec names what they read."""
    names = list(dict.fromkeys(rows.metric))
    if isinstance(spec.metric, AcrossMetrics):
        names += list(spec.metric.across)
    if isinstance(spec.metric, Optimum):
        names.append(spec.metric.of)
    return names


def prediction_view(pred: PredictionRecord, reduced: pd.DataFrame, failed_runs: str, figure: Path | None = None,
                    curves: list[Path] = ()) -> PredictionView:
    spec, res, out = pred.spec, pred.result, pred.outcome
    reduce = spec.reduce.model_dump(mode="json")
    judged = None
    if res.ci_judged_level != res.ci_level:
        judged = (f"Judged against the {100 * res.ci_judged_level:.4g}% CI [{num(res.ci_judged[0])}, "
                  f"{num(res.ci_judged[1])}] (widened for the number of predictions).")
    return PredictionView(
        id=pred.id, status=out.status, kind=pred.kind, description=spec.description,
        measures=[Span(p.text, p.style) for p in pred.measures()],
        reduce=reduce["name"], reduce_params=", ".join(f"{k}={v}" for k, v in reduce.items() if k != "name"),
        claim=[Span(p.text, p.style) for p in pred.claim()],
        alpha=f"{spec.alpha:g}", prior=None if spec.prior is None else f"{spec.prior:g}",
        correction=res.correction,
        test=[res.test, num(res.statistic), p_value(res.p), p_value(res.p_adjusted), res.effect, num(res.estimate),
              f"[{num(res.ci[0])}, {num(res.ci[1])}]", ", ".join(f"{k}: {v}" for k, v in res.n.items())],
        judged=judged,
        extra=", ".join(f"{k} = {num(v)}" for k, v in res.extra.items()) or None,
        values=value_table(reduced, pred.id),
        reason=out.reason, would_change=out.would_change,
        counts=_counts(res.counts, failed_runs),
        power=power_statement(res.power) if out.status == "inconclusive" and res.power else None,
        notes=list(res.notes),
        seen=list(pred.seen),
        figure=Figure(f"what {pred.id} tests", figure) if figure else None,
        curves=[Figure(f.stem, f) for f in curves
                if f.stem in metrics_read(spec, reduced[reduced.prediction == pred.id])],
    )


# ------------------------------------------------------------------------------------------ the rest

def registration(v: VerdictRecord, seen: list[str] = ()) -> list[Text]:
    """The pre-registration sentence (or the post-hoc warning); `seen`: the predictions that read seen data."""
    reg = v.preregistration
    if v.post_hoc:
        return [[Span("⚠️ "), Span("Post hoc.", "strong"),
                 Span(f" The predictions or analysis plan were edited after the plan was sealed (sealed "
                      f"{reg.registered_at}, plan sha256 "), Span(reg.sha256[:12], "code"), Span("; now "),
                 Span(reg.current_sha256[:12], "code"),
                 Span("). This verdict tests a plan made after seeing data; treat it as exploratory.")]]
    where = [Span("; seal "), Span(reg.seal, "code")] if reg.seal else []
    if not seen:
        return [[Span(f"Pre-registered: the plan was recorded {reg.registered_at} (sha256 "),
                 Span(reg.sha256[:12], "code"), *where, Span(") and has not changed since.")]]
    names = [s for i, k in enumerate(seen) for s in ([Span(", ")] if i else []) + [Span(k, "code")]]
    return [[Span(f"The plan was recorded {reg.registered_at} (sha256 "), Span(reg.sha256[:12], "code"), *where,
             Span(") and has not changed since, but "), Span(f"{len(seen)} prediction(s) read seen data", "strong"),
             Span(" (runs whose data existed before the seal): "), *names,
             Span(". They are tested and shown, not scored; the verdict rests partly on data seen before the plan.")]]


def plan_sentence(v: VerdictRecord, k: int) -> Text:
    corr = CORRECTION[v.analysis.correction] if k > 1 else "none needed"
    failed = ("a failed (diverged) run makes the verdict INVALID" if v.analysis.failed_runs == "invalid"
              else "a failed (diverged) run counts against the predictions that read it")
    return plain(f"Analysis plan: correction across the {k} prediction(s): {corr}; {failed}.")


def lineage_view(lin: dict | None) -> LineageView | None:
    if not lin:
        return None
    move = lin["movement"]
    return LineageView(
        parent=lin["parent"], parent_title=lin["parent_title"], grandparent=lin.get("grandparent"),
        before=str(move["verdict"][0]), after=str(move["verdict"][1]),
        moves=[(m["id"], m["before"], m["after"]) for m in move["predictions"]],
        added=list(move["added"]), dropped=list(move["dropped"]),
        changes=[(c["field"], c["before"], c["after"]) for c in lin["changes"]])


def probe_views(v: VerdictRecord, probes: pd.DataFrame, figures: dict[str, list[Path]]) -> list[ProbeView]:
    """Per probe: its parameters, its summary outputs at the last probed step, its figures."""
    out = []
    for spec in v.probes:
        sub = probes[(probes.probe == spec.id) & (probes.unit == "")]
        rows, steps = [], sorted(int(s) for s in sub.step.unique()) if len(sub) else []
        for (metric, site, cond), g in sub.groupby(["metric", "site", "condition"], sort=False):
            x = g[g.step == g.step.max()].value
            rows.append([address(spec.id, metric, site), cond, num(x.mean()), num(x.std()), num(x.min()),
                         num(x.max()), str(len(x))])
        out.append(ProbeView(spec.id, spec.name, PROBES.get(spec.name).help,
                             ", ".join(f"{k}={x}" for k, x in spec.params.items() if x is not None), steps, rows,
                             [Figure(f.stem, f) for f in figures.get(spec.id, [])]))
    return out


def code_line(name: str, g) -> str:
    if g.commit == "unknown":
        return f"{name}: commit unknown (no git repository)"
    edits = {"yes": ", with uncommitted edits", "no": ", clean", "unknown": ", edits unknown"}[g.dirty]
    return f"{name}: commit {g.commit[:12]}{edits}"


def read_lineage(verdict: VerdictRecord, results: str | Path) -> dict | None:
    """The lineage of a hypothesis from its parent's verified records (the report job's input when it refines one)."""
    if not verdict.refines:
        return None
    return lineage_of(records.read(results, verdict.refines).verdict, verdict)


def report_view(a: Analysis, figures: list[Path], probe_figures: dict[str, list[Path]] | None,
                lineage: dict | None, prediction_figures: dict[str, Path] | None = None) -> ReportView:
    """The report of `a`; `figures`: the learning curves (figures/<metric>.png), `prediction_figures`: each
    prediction's own (refute.report.prediction_figures)."""
    v = a.verdict
    prov = v.provenance
    alts = [AlternativeView(x.id, x.explanation, x.status, list(x.predictions.items()), list(x.conditions), x.why)
            for x in v.alternatives]
    runs = [RunView(c, r.hash, len(r.seeds), r.steps,
                    ", ".join(f"seed {s} @ {st}" for s, st in (r.diverged or {}).items()) or "none",
                    num(r.wall_seconds), str(r.device), str(r.threads)) for c, r in v.runs.items()]
    return ReportView(
        id=v.id, title=v.title, statement=v.statement, verdict=v.verdict, badge=BADGE.get(v.verdict, v.verdict),
        post_hoc=v.post_hoc, hypothesis_file=prov.hypothesis_file,
        registration=registration(v, [p.id for p in a.predictions if p.seen]), changed=list(v.preregistration.changed) if v.post_hoc else [],
        plan=plan_sentence(v, len(a.predictions)), failures=list(v.failures), reasons=list(v.reasons),
        lineage=lineage_view(lineage),
        alternatives=alts,
        ruled_out=", ".join(x.id for x in alts if x.status == "ruled out") or "none",
        standing=", ".join(x.id for x in alts if x.status != "ruled out") or "none",
        predictions=[prediction_view(p, a.reduced, v.analysis.failed_runs, (prediction_figures or {}).get(p.id),
                                     figures) for p in a.predictions],
        figures=[Figure(f.stem, f) for f in figures],
        probes=probe_views(v, a.probes, probe_figures or {}) if v.probes else None,
        runs=runs,
        rounds=rounds_view(v),
        provenance={
            "hypothesis_sha256": prov.hypothesis_sha256,
            "training_wall_seconds": str(prov.training_wall_seconds),
            "devices": ", ".join(prov.devices),
            "python": prov.python, "platform": prov.platform,
            "packages": ", ".join(f"{k} {x}" for k, x in prov.packages.items() if x),
            "code": "; ".join(code_line(k, g) for k, g in prov.code.items()) or "unknown",
            "analysed_at": prov.analysed_at,
        },
    )
