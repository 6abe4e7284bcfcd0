"""report.html: a hypothesis's report as one self-contained page.

Figures embedded as base64 PNG, no scripts and nothing fetched, so a page can be mailed or archived as it
is. Jinja2 escapes every value (autoescape), so text from hypothesis files is shown as text, never
interpreted as markup. It says what report.md says: both render one view model (refute.report.view).
"""

from __future__ import annotations

from pathlib import Path

from refute import io
from refute.layout import FIGURES, REPORT_HTML, Layout
from refute.report.render import render_page
from refute.report.view import ReportView, read_lineage, report_view
from refute.stats import records


def render_report(view: ReportView) -> str:
    return render_page("report.html.j2", r=view)


def write_html_report(hyp_id: str, results: str | Path = "results") -> Path:
    """Write results/<id>/report.html from the verified records and the figures report.md made."""
    layout = Layout(results)
    a = records.load(results, hyp_id)
    figures_dir = layout.hypothesis_file(hyp_id, FIGURES)
    metrics = a.observations.metric.unique()
    # Learning curves are figures/<metric>.png for the logged metrics (probe outputs have a '/').
    figures = [f for m in sorted(metrics) if "/" not in m and (f := figures_dir / f"{m}.png").exists()]
    probe_figs = {p.id: sorted(figures_dir.glob(f"probe-{p.id}-*.png")) for p in a.verdict.probes}
    predicted = {p.id: f for p in a.predictions if (f := figures_dir / f"prediction-{p.id}.png").exists()}
    path = layout.hypothesis_file(hyp_id, REPORT_HTML)
    io.write_text(path, render_report(report_view(a, figures, probe_figs, read_lineage(a.verdict, results),
                                                  predicted)))
    return path
