"""report.html: self-contained (figures inline, nothing fetched) and every user string escaped."""

import re

import pandas as pd

from refute.report.figures import learning_curves
from refute.report.html import render_report

EVIL = '<script>document.title="pwned"</script><img src=x onerror="alert(1)">'


def records():
    verdict = {
        "id": "h", "title": f"Title {EVIL}", "statement": f"Claim {EVIL}", "verdict": "SUPPORTED",
        "reasons": [f"prediction p holds {EVIL}"], "refines": None, "failures": [],
        "alternatives": [{"id": "alt", "explanation": f"Because {EVIL}", "conditions": ["a"],
                          "predictions": {"p": "holds"}, "ruled_out_if": "holds", "status": "ruled out",
                          "why": "every distinguishing prediction holds"}],
        "runs": {"a": {"hash": "0123456789abcdef", "seeds": [0, 1], "steps": 10, "wall_seconds": 1.0,
                       "device": "cpu", "threads": 1, "diverged": {}}},
        "provenance": {"hypothesis_file": "hypotheses/h.yaml", "hypothesis_sha256": "ab", "packages": {"torch": "2"},
                       "python": "3.11", "platform": "linux", "devices": ["cpu"], "training_wall_seconds": 1.0,
                       "analysed_at": "2026-01-01T00:00:00+00:00"},
    }
    pred = {"id": "p", "kind": "threshold",
            "spec": {"description": f"Desc {EVIL}", "metric": "train_acc", "reduce": {"name": "final"},
                     "direction": "greater", "alpha": 0.05, "min_effect": 0.0, "prior": 0.7},
            "result": {"test": "one-sample t-test", "statistic": 3.0, "p": 0.01, "p_adjusted": 0.02, "estimate": 0.4,
                       "ci": [0.1, 0.7], "ci_level": 0.95, "correction": "holm", "effect": "mean (a − 0.5)",
                       "n": {"a": 2}, "extra": {}, "notes": [],
                       "counts": {"runs": 2, "used": 2, "failed": 0, "no_value": 0, "censored": 0}},
            "outcome": {"status": "holds", "reason": "p < α", "would_change": "p ≥ α"}}
    reduced = pd.DataFrame({"prediction": ["p", "p"], "condition": ["a", "a"], "seed": [0, 1], "metric": "train_acc",
                            "role": "y", "x": float("nan"), "value": [0.9, 0.95], "censored": False, "failed": False,
                            "used": True})
    return verdict, [pred], reduced


def test_user_text_is_escaped_and_the_page_is_self_contained(tmp_path):
    table = pd.DataFrame({"condition": "a", "seed": [0, 0, 1, 1], "step": [0, 10, 0, 10], "metric": "train_acc",
                          "value": [0.1, 0.9, 0.2, 0.95]})
    figures = learning_curves(table, tmp_path)
    html = render_report(*records(), figures)
    assert "<script" not in html and "<img src=x" not in html
    assert html.count("&lt;script&gt;") == 5  # title, statement, reason, alternative, description: all as text
    assert re.search(r'<img alt="train_acc" title="train_acc" src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}">', html)
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from anywhere
    assert "prior stated in advance: 0.7" in html and "ruled out" in html
    assert "p adjusted (holm)" in html and "Runs: 2 run values; 2 tested." in html


def test_a_post_hoc_verdict_says_so_first(tmp_path):
    verdict, preds, reduced = records()
    verdict.update(post_hoc=True, preregistration={"registered_at": "2026-01-01", "sha256": "a" * 64,
                                                   "current_sha256": "b" * 64, "changed": ["predictions.p: edited"]})
    html = render_report(verdict, preds, reduced, [])
    warning = html.split('id="post-hoc">')[1].split("</div>")[0]
    assert "Post hoc." in warning and "predictions.p: edited" in warning
    assert "SUPPORTED (post hoc)" in html


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
