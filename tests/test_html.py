"""report.html: self-contained (figures inline, nothing fetched) and every user string escaped."""

import re

import pandas as pd

from conftest import TINY, plan_of, prediction_records, reduced_table, verdict_record
from refute.report.figures import learning_curves
from refute.report.html import render_report
from refute.report.view import report_view

EVIL = '<script>document.title="pwned"</script><img src=x onerror="alert(1)">'


def analysis(**verdict_fields):
    """A hypothesis's records, from the record models: user text full of markup everywhere it can be."""
    from refute.stats.records import Analysis

    pred = {**TINY["predictions"][0], "id": "p", "description": f"Desc {EVIL}", "prior": 0.7}
    plan = plan_of({**TINY, "id": "h", "title": f"Title {EVIL}", "statement": f"Claim {EVIL}", "predictions": [pred],
                    "alternatives": [{"id": "alt", "explanation": f"Because {EVIL}", "conditions": ["default"],
                                      "predictions": ["p"]}]})
    preds = prediction_records(plan, {"p": "holds"}, correction="holm", p_adjusted=0.02)
    alternative = {"id": "alt", "explanation": f"Because {EVIL}", "conditions": ["default"],
                   "predictions": {"p": "holds"}, "ruled_out_if": "holds", "status": "ruled out",
                   "why": "every distinguishing prediction holds"}
    verdict = verdict_record(plan, preds, "SUPPORTED", reasons=[f"prediction p holds {EVIL}"],
                             alternatives=[alternative], **verdict_fields)
    return Analysis(verdict, preds, observations=pd.DataFrame(), reduced=reduced_table(preds), probes=pd.DataFrame())


def test_user_text_is_escaped_and_the_page_is_self_contained(tmp_path):
    table = pd.DataFrame({"condition": "a", "seed": [0, 0, 1, 1], "step": [0, 10, 0, 10], "metric": "train_acc",
                          "value": [0.1, 0.9, 0.2, 0.95]})
    figures = learning_curves(table, tmp_path)
    html = render_report(report_view(analysis(), figures, None, None))
    assert "<script" not in html and "<img src=x" not in html
    assert html.count("&lt;script&gt;") == 5  # title, statement, reason, alternative, description: all as text
    assert re.search(r'<img alt="train_acc" title="train_acc" src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}">', html)
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from anywhere
    assert "prior stated in advance: 0.7" in html and "ruled out" in html
    assert "p adjusted (holm)" in html and "Runs: 2 run values; 2 tested." in html


def test_a_post_hoc_verdict_says_so_first(tmp_path):
    a = analysis(post_hoc=True, preregistration={"status": "post hoc", "registered_at": "2026-01-01",
                                                  "sha256": "a" * 64, "current_sha256": "b" * 64,
                                                  "changed": ["predictions.p: edited"]})
    html = render_report(report_view(a, [], None, None))
    warning = html.split('id="post-hoc">')[1].split("</div>")[0]
    assert "Post hoc." in warning and "predictions.p: edited" in warning
    assert "SUPPORTED (post hoc)" in html


def test_both_reports_say_the_same_sentences():
    """One view model, two templates: every sentence report.md shows about a prediction, report.html shows too."""
    from refute.report.markdown import render

    view = report_view(analysis(), [], None, None)
    md, html = render(view), render_report(view)
    for sentence in ("predicted direction", "Runs: 2 run values; 2 tested.", "Why holds:", "What would change it:",
                     "Analysis plan: correction across the 1 prediction(s): none needed",
                     "Ruled out: alt. Still standing: none."):
        assert sentence in md and sentence in html, sentence
    assert "predicted direction **greater**" in md and "predicted direction <b>greater</b>" in html


def test_the_index_page_escapes_titles_and_lists_what_has_not_run():
    from refute.report.index import render_html
    from refute.loop.scoreboard import score

    entries = [
        {"id": "a", "title": f"Done {EVIL}", "refines": None, "verdict": "SUPPORTED", "post_hoc": True,
         "analysed_at": "2026-01-01T00:00:00+00:00", "stale": False, "held": 1,
         "predictions": [{"id": "p", "status": "holds", "prior": 0.5}], "reports": {"html": "a/report.html"}},
        {"id": "b", "title": "Next", "refines": "a", "verdict": None, "post_hoc": False, "analysed_at": None,
         "stale": False, "held": 0, "predictions": [{"id": "q", "status": None, "prior": None}], "reports": {}},
    ]
    html = render_html(entries, score(entries), "2026-01-02T00:00")
    assert "<script" not in html and "Done &lt;script&gt;" in html
    assert '<span class="badge pending">not run</span>' in html and '<span class="badge post-hoc">post hoc</span>' in html
    assert 'margin-left: 1.6rem">└ <b>b</b>' in html  # b sits under a, without a link: it has no report yet
