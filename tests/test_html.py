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
            "result": {"test": "one-sample t-test", "statistic": 3.0, "p": 0.01, "estimate": 0.4, "ci": [0.1, 0.7],
                       "effect": "mean (a − 0.5)", "n": {"a": 2}, "extra": {}, "notes": []},
            "outcome": {"status": "holds", "reason": "p < α", "would_change": "p ≥ α"}}
    reduced = pd.DataFrame({"prediction": ["p", "p"], "condition": ["a", "a"], "seed": [0, 1],
                            "value": [0.9, 0.95], "censored": [False, False]})
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
