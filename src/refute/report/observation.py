"""An exploration's observation report: results/explorations/<id>/report.md and report.html, with figures.

What it shows: every metric's curves by condition (mean over seeds, min–max band), each reduction against
each swept axis with every seed's value, and the events found, each with its evidence figure drawn by its
detector; then how many candidates the correction across candidates left out. The HTML page is
self-contained (figures embedded), like a hypothesis's report.
"""

from __future__ import annotations

from pathlib import Path

from refute import io
from refute.components.events import EVENTS, Event, Observations
from refute.layout import FIGURES, REPORT_HTML, REPORT_MD, Layout
from refute.report import escape
from refute.report.figures import _safe, learning_curves
from refute.report.render import render_page
from refute.stats import observe


def axis_figures(obs: Observations, out_dir: Path) -> list[Path]:
    """One figure per (metric, reduction, swept axis): the reduced value against the axis, one line per
    setting of the other coordinates, every seed a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from refute.components.events import band

    paths = []
    for axis in obs.axes():
        lines = [ln for ln in obs.lines(2) if ln.axis == axis]
        if not lines:
            continue
        for metric, red in obs.reduced_pairs():
            fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
            for ln in lines:
                band(ax, ln.xs, [obs.values(c, metric, red) for c in ln.conditions], ln.label()[len("along " + axis):].strip(" ()") or metric)
            xs = [x for ln in lines for x in ln.xs]
            if min(xs) > 0 and max(xs) / min(xs) > 20:
                ax.set_xscale("log")
            ax.set_xlabel(axis)
            ax.set_ylabel(f"{metric} ({red})")
            ax.set_title(f"{metric} ({red}) against {axis}: mean over seeds, dots = seeds", fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
            fig.tight_layout()
            path = out_dir / f"{_safe(f'axis-{metric}-{red}-{axis}')}.png"
            fig.savefig(path)
            plt.close(fig)
            paths.append(path)
    return paths


def event_figure(plan, event: Event, obs: Observations, out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = next(s for s in plan.exploration.look.events if s.name == event.detector)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    EVENTS.get(event.detector).impl.plot(spec, event, obs, ax)
    ax.set_title(f"{event.id} (p corrected {event.p_adjusted:.2g})", fontsize=10)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out_dir / f"event-{event.id}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def view(results: str | Path, exploration_id: str) -> dict:
    """Everything the two report templates show, with the figures drawn."""
    plan, obs, events, record = observe.load(results, exploration_id)
    out = Layout(results).exploration_file(exploration_id, FIGURES)
    out.mkdir(parents=True, exist_ok=True)
    curves = learning_curves(obs.curves, out)
    axes = axis_figures(obs, out)
    found = [{"event": e, "figure": event_figure(plan, e, obs, out)} for e in events]
    e = plan.exploration
    design = [{"condition": c, "coords": ", ".join(f"{k} = {v}" for k, v in plan.overrides[c].items()) or "base",
               "run": plan.runs[c], "seeds": len(r.seeds)} for c, r in plan.conditions.items()]
    return {"id": e.id, "title": e.title, "question": " ".join(e.question.split()), "file": plan.file,
            "design": design, "found": found, "alpha": record["alpha"], "candidates": record["candidates"],
            "not_found": [Event.model_validate(x) for x in record["not_found"]][:10],
            "failed": record.get("failed", {}), "curves": curves, "axes": axes,
            "detectors": [s.name for s in e.look.events]}


def render_md(v: dict, base: Path) -> str:
    rel = lambda p: str(Path(p).relative_to(base))  # noqa: E731
    lines = [f"# Exploration: {escape.inline(v['title'])}", "", f"`{v['id']}` ({escape.inline(v['file'])}): an "
             "exploration has no predictions; what it finds is a lead to confirm on fresh seeds (`refute discover "
             f"{v['id']}`), never evidence.", "", f"> {escape.inline(v['question'])}", "", "## Design", "",
             "| condition | settings | run | seeds |", "|---|---|---|---|"]
    lines += [f"| {d['condition']} | {escape.inline(d['coords'])} | `{d['run']}` | {d['seeds']} |" for d in v["design"]]
    lines += ["", f"## Events found ({len(v['found'])})", "",
              f"Detectors: {', '.join(v['detectors'])}. {v['candidates']} candidate events; a candidate is found when "
              f"its p, corrected across all of them (Holm), is at most α = {v['alpha']:g}: an exploration of pure "
              f"noise finds anything with probability at most {v['alpha']:g}.", ""]
    for f in v["found"]:
        e = f["event"]
        lines += [f"### {e.id}", "", f"{escape.inline(e.summary)}.", "",
                  f"- detector: {e.detector}; p = {e.p:.3g}, corrected {e.p_adjusted:.3g}",
                  f"- evidence: ![{e.id}]({rel(f['figure'])})", ""]
    if not v["found"]:
        lines += ["Nothing was found: `refute discover` drafts nothing.", ""]
    if v["not_found"]:
        lines += ["Closest candidates not found:", "", "| candidate | corrected p | what it would be |", "|---|---|---|"]
        lines += [f"| {e.id} | {e.p_adjusted:.3g} | {escape.inline(e.summary)} |" for e in v["not_found"]]
        lines.append("")
    if v["failed"]:
        lines += ["Diverged runs (left out): " + "; ".join(f"{c}: seeds {s}" for c, s in v["failed"].items()), ""]
    lines += ["## Curves by condition", ""] + [f"![{p.stem}]({rel(p)})" for p in v["curves"]]
    lines += ["", "## Reductions against each swept axis", ""] + [f"![{p.stem}]({rel(p)})" for p in v["axes"]]
    if not v["axes"]:
        lines.append("No swept axis with two or more values.")
    return "\n".join(lines) + "\n"


def write_observation_report(exploration_id: str, results: str | Path = "results") -> list[Path]:
    """Write results/explorations/<id>/report.md, report.html and figures/."""
    layout = Layout(results)
    v = view(results, exploration_id)
    md, html = layout.exploration_file(exploration_id, REPORT_MD), layout.exploration_file(exploration_id, REPORT_HTML)
    io.write_text(md, render_md(v, layout.exploration_dir(exploration_id)))
    io.write_text(html, render_page("observation.html.j2", v=v))
    return [md, html]
