"""report.md: claim and verdict first, then each prediction's test, the curves, the runs, provenance.

The text is the view model's (refute.report.view), laid out by report.md.j2; user text is escaped there
(refute.report.escape)."""

from __future__ import annotations

from pathlib import Path

from refute import io
from refute.layout import FIGURES, REPORT_MD, Layout
from refute.report.figures import crossings_of, learning_curves, probe_figures
from refute.report.prediction_figures import prediction_figures
from refute.report.render import render_page
from refute.report.view import ReportView, read_lineage, report_view
from refute.stats import records


def render(view: ReportView) -> str:
    return render_page("report.md.j2", r=view)


def write_report(hyp_id: str, results: str | Path = "results") -> Path:
    """Write results/<id>/report.md and results/<id>/figures/*.png (learning curves, probe outputs, each
    prediction's figure) from the verified records."""
    layout = Layout(results)
    a = records.load(results, hyp_id)
    figures_dir = layout.hypothesis_file(hyp_id, FIGURES)
    table = a.observations
    # Probe outputs sit in the observations too (for predictions); they get their own section.
    figures = learning_curves(table[~table.metric.str.contains("/", regex=False)], figures_dir,
                              crossings_of(a.predictions, a.reduced))
    probe_figs = probe_figures(a.probes, figures_dir) if len(a.probes) else {}
    predicted = prediction_figures(a.predictions, a.reduced, figures_dir)
    path = layout.hypothesis_file(hyp_id, REPORT_MD)
    io.write_text(path, render(report_view(a, figures, probe_figs, read_lineage(a.verdict, results), predicted)))
    return path
