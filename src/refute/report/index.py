"""The agenda index: results/index.md and results/index.html.

Every hypothesis with its verdict, the date it was analysed, where it sits in the lineage tree and
links to its reports; which held predictions survive the agenda's false discovery rate control
(`refute.loop.agenda_fdr`); then the prediction scoreboard (`refute.loop.scoreboard`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from refute import io
from refute.layout import INDEX_HTML, INDEX_MD, REPORT_HTML, REPORT_MD, Layout
from refute.loop.agenda_fdr import AgendaFDR, agenda_fdr
from refute.loop.lineage import tree
from refute.loop.scoreboard import Scoreboard, score
from refute.report import escape
from refute.report.render import render_page
from refute.spec.plan import read_plan
from refute.spec.seal import read_seal
from refute.stats import records

BADGE = {"SUPPORTED": "✅ SUPPORTED", "REFUTED": "❌ REFUTED", "INCONCLUSIVE": "❔ INCONCLUSIVE",
         "INVALID": "⚠️ INVALID", None: "⏳ not run"}


def collect(plan_files: list[str | Path], results: str | Path = "results") -> list[dict]:
    """One entry per hypothesis plan file: its verdict and predictions as last analysed (None if never, from
    the verified records), and whether the plan changed since (stale)."""
    entries = []
    for plan_file in plan_files:
        h = read_plan(plan_file)
        decision = records.read(results, h.id) if records.analysed(results, h.id) else None
        if decision is not None:
            predictions = [{"id": p.id, "status": p.outcome.status, "prior": p.spec.prior, "seen": bool(p.seen),
                            "p": p.result.p} for p in decision.predictions]
            sealed_at = decision.verdict.preregistration.registered_at
        else:
            predictions = [{"id": p.id, "status": None, "prior": p.prior} for p in h.hypothesis.predictions]
            sealed_at = (read_seal(h) or {}).get("sealed_at")  # sealed when the workflow started, not run yet
        verdict = decision.verdict if decision else None
        layout = Layout(results)
        entries.append({
            "id": h.id,
            "title": h.hypothesis.title,
            "file": str(h.path),
            "refines": h.hypothesis.refines,
            "sealed_at": sealed_at,
            "exploration": h.hypothesis.exploration,
            "verdict": verdict.verdict if verdict else None,
            "post_hoc": bool(verdict and verdict.post_hoc),
            "analysed_at": verdict.provenance.analysed_at if verdict else None,
            "stale": bool(verdict) and verdict.plan != Path(plan_file).stem,  # the file's name is its digest
            "predictions": predictions,
            "held": sum(p["status"] == "holds" for p in predictions),
            "reports": {k: f"{h.id}/{name}" for k, name in (("md", REPORT_MD), ("html", REPORT_HTML))
                        if layout.hypothesis_file(h.id, name).exists()},
        })
    # Lineage order: each hypothesis right after its parent (and roots by id).
    forest = tree({e["id"]: e["refines"] for e in entries})
    order = {hid: i for i, (_, hid) in enumerate(forest)}
    for depth, hid in forest:
        next(e for e in entries if e["id"] == hid)["depth"] = depth
    return sorted(entries, key=lambda e: order[e["id"]])


def _date(stamp: str | None) -> str:
    return stamp.replace("T", " ")[:16] if stamp else "—"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def render_md(entries: list[dict], board: Scoreboard, generated: str, fdr: AgendaFDR | None = None) -> str:
    by_id = {e["id"]: e for e in entries}
    fdr = fdr or agenda_fdr(entries)
    lines = ["# Research agenda", "", f"{len(entries)} hypotheses; index written {_date(generated)} UTC.", "",
             "## Hypotheses", "",
             f"| hypothesis | verdict | analysed | refines | predictions held | survive agenda FDR (q = {fdr.q:g}) "
             "| reports |", "|---|---|---|---|---|---|---|"]
    for e in entries:
        links = " · ".join(f"[{k}]({v})" for k, v in e["reports"].items()) or "—"
        stale = (" (post hoc)" if e["post_hoc"] else "") + (" (file changed since)" if e["stale"] else "")
        lines.append(f"| **{e['id']}**: {escape.inline(e['title'])} | {BADGE[e['verdict']]}{stale} | {_date(e['analysed_at'])} "
                     f"| {e['refines'] or '—'} | {e['held']} of {len(e['predictions'])} | {fdr.survivors(e['id'])} "
                     f"| {links} |")
    lines += ["", "## Agenda-level error control", "", *agenda_fdr_md(fdr)]
    lines += ["", "## Lineage", ""]
    for depth, node in tree({e["id"]: e["refines"] for e in entries}):
        e = by_id[node]
        link = f"[{node}]({e['reports']['md']})" if "md" in e["reports"] else node
        lines.append(f"{'  ' * depth}- {link} — {BADGE[e['verdict']]} — {escape.inline(e['title'])}")
    lines += ["", "## Prediction scoreboard", "", *scoreboard_md(board)]
    return "\n".join(lines) + "\n"


def agenda_fdr_md(fdr: AgendaFDR) -> list[str]:
    lines = [f"Every prediction of every sealed plan, in the order the plans were sealed, enters LORD++, an online "
             f"false discovery rate procedure at q = {fdr.q:g} over the whole agenda (refinement chains included). "
             f"**{fdr.survived}** of {fdr.held} held pre-registered prediction(s) survive it; a held prediction that "
             "does not is supported by its own hypothesis's test but not at the agenda's level.", ""]
    held = [s for s in fdr.slots if s.held]
    if held:
        lines += ["| # | hypothesis | prediction | sealed | p | LORD++ level | survives |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {s.position} | {s.hypothesis} | {s.prediction} | {_date(s.sealed_at)} | {s.p:.3g} "
                  f"| {s.level:.3g} | {'yes' if s.survives else 'no'} |" for s in held]
    return [*lines, ""]


def scoreboard_md(board: Scoreboard) -> list[str]:
    lines = [f"- pre-registered predictions: {board.predictions}",
             f"- held: **{board.held}** of {board.decided} decided (hit rate {_pct(board.hit_rate)}); "
             f"contradicted: {board.contradicted}",
             f"- undecided: {board.undecided}; pending (not run): {board.pending}; invalid runs: {board.invalid}; "
             f"post hoc (edited after results, not scored): {board.post_hoc}; "
             f"seen data (read runs trained before the plan was sealed, not scored): {board.seen}"]
    if board.brier is not None:
        lines.append(f"- Brier score: **{board.brier:.3f}** over {board.brier_n} decided prediction(s) with a prior "
                     "(0 = perfect foresight; 0.25 = always saying 50%)")
    else:
        lines.append(f"- Brier score: — (no decided prediction states a prior; {board.with_prior} state one)")
    lines += ["", "| hypothesis | prediction | prior | outcome | (prior − outcome)² |", "|---|---|---|---|---|"]
    for r in board.rows:
        lines.append(f"| {r.hypothesis} | {r.prediction} | {'—' if r.prior is None else f'{r.prior:g}'} | {r.status} "
                     f"| {'—' if r.brier is None else f'{r.brier:.3f}'} |")
    return [*lines, ""]


def render_html(entries: list[dict], board: Scoreboard, generated: str, fdr: AgendaFDR | None = None) -> str:
    by_id = {e["id"]: e for e in entries}
    forest = [{**by_id[n], "depth": d} for d, n in tree({e["id"]: e["refines"] for e in entries})]
    return render_page("index.html.j2", entries=entries, forest=forest, board=board, fdr=fdr or agenda_fdr(entries),
                       generated=_date(generated), pct=_pct, date=_date)


CONFIRMED, REFUTED_, UNDECIDED_ = "SUPPORTED", "REFUTED", ("INCONCLUSIVE", "INVALID")


def explorations_of(exploration_plans: list[str | Path], entries: list[dict], results: str | Path) -> list[dict]:
    """Per exploration: its events found, and its drafts (hypotheses naming it) confirmed, refuted or undecided:
    the discovery step's own score."""
    from refute.layout import EVENTS, REPORT_HTML as HTML

    out = []
    for plan_file in exploration_plans:
        plan = io.read_json(plan_file)
        xid = plan["exploration"]["id"]
        layout = Layout(results)
        events_file = layout.exploration_file(xid, EVENTS)
        found = len(io.read_json(events_file)["found"]) if events_file.exists() else None
        drafts = [e for e in entries if e.get("exploration") == xid]
        out.append({"id": xid, "title": plan["exploration"]["title"], "found": found, "drafts": len(drafts),
                    "confirmed": sum(e["verdict"] == CONFIRMED for e in drafts),
                    "refuted": sum(e["verdict"] == REFUTED_ for e in drafts),
                    "undecided": sum(e["verdict"] in UNDECIDED_ for e in drafts),
                    "not_run": sum(e["verdict"] is None for e in drafts),
                    "report": f"explorations/{xid}/{HTML}" if layout.exploration_file(xid, HTML).exists() else None})
    return out


def explorations_md(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    lines = ["## Explorations", "", "Each exploration's events, and the hypotheses `refute discover` drafted from them, "
             "tested on fresh seeds: how often what an exploration pointed at was confirmed.", "",
             "| exploration | events found | drafts | confirmed | refuted | undecided | not run |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        name = f"[{r['id']}]({r['report']})" if r["report"] else r["id"]
        lines.append(f"| **{name}**: {escape.inline(r['title'])} | {'—' if r['found'] is None else r['found']} | "
                     f"{r['drafts']} | {r['confirmed']} | {r['refuted']} | {r['undecided']} | {r['not_run']} |")
    return [*lines, ""]


def write_index(plans: list[str | Path], results: str | Path = "results",
                exploration_plans: list[str | Path] = ()) -> list[Path]:
    """Write results/index.md and results/index.html from every hypothesis's (and exploration's) plan file and
    records."""
    entries = collect(plans, results)
    board, fdr = score(entries), agenda_fdr(entries)
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    explored = explorations_of(list(exploration_plans), entries, results)
    paths = [Layout(results).index(INDEX_MD), Layout(results).index(INDEX_HTML)]
    md = render_md(entries, board, generated, fdr)
    if explored:
        head, sep, tail = md.partition("## Lineage")
        md = head + "\n".join(explorations_md(explored)) + "\n" + sep + tail
    io.write_text(paths[0], md)
    html = render_html(entries, board, generated, fdr)
    if explored:
        html = html.replace('<h2>Lineage</h2>', render_page("explorations.html.j2", rows=explored) + '<h2>Lineage</h2>', 1)
    io.write_text(paths[1], html)
    return paths


def refresh_index(plans: list[str | Path], results: str | Path = "results",
                  exploration_plans: list[str | Path] = ()) -> list[Path]:
    """Rewrite the index when a report is newer than it (or there is none): after a run of only some
    hypotheses, which does not build the index (its rule waits for every report), so each report's link to it
    lands and the hypotheses not run show as such. Writes nothing when it is up to date."""
    layout = Layout(results)
    index = layout.index(INDEX_HTML)
    reports = [layout.hypothesis_file(read_plan(p).id, name) for p in plans for name in (REPORT_MD, REPORT_HTML)]
    reports += [layout.exploration_file(io.read_json(p)["exploration"]["id"], REPORT_HTML) for p in exploration_plans]
    reports = [f for f in reports if f.exists()]
    if not reports or (index.exists() and layout.index(INDEX_MD).exists()
                       and index.stat().st_mtime >= max(f.stat().st_mtime for f in reports)):
        return []
    return write_index(plans, results, exploration_plans)
