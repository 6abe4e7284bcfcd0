"""Error control over the whole agenda: every prediction of every sealed plan enters LORD++ in seal order, and
the index shows which held predictions survive at the agenda's level q."""

import importlib.util
import math

import pytest

from conftest import ROOT
from refute.loop.agenda_fdr import agenda_fdr
from refute.stats.online_fdr import gamma, lord_plus_plus


def test_lord_plus_plus_levels_by_hand():
    q = 0.1
    levels, found = lord_plus_plus([1.0, 1e-5, 1.0], q)
    assert levels[0] == pytest.approx(gamma(1) * q / 2)  # nothing found yet: the initial wealth alone
    assert found == [False, True, False]
    # After a discovery at t = 2 the level earns (q − W0)·γ_{t−2}.
    assert levels[2] == pytest.approx(gamma(3) * q / 2 + (q - q / 2) * gamma(1))
    assert sum(gamma(j) for j in range(1, 100_000)) < 1  # the γ sequence sums to (at most) 1
    with pytest.raises(ValueError, match="q must be"):
        lord_plus_plus([0.5], 1.5)


def entry(id, sealed, *preds, verdict="SUPPORTED", post_hoc=False):
    return {"id": id, "verdict": verdict, "post_hoc": post_hoc, "sealed_at": sealed,
            "predictions": [{"id": p, "status": s, "p": pv, **({"seen": True} if seen else {})}
                            for p, s, pv, seen in preds]}


def test_only_held_pre_registered_predictions_can_survive_in_seal_order():
    tiny_p = 1e-6
    entries = [
        entry("late", "2026-03-01", ("l1", "holds", tiny_p, False)),
        entry("early", "2026-01-01", ("e1", "holds", tiny_p, False), ("e2", "inconclusive", 0.2, False)),
        entry("edited", "2026-02-01", ("x1", "holds", tiny_p, False), post_hoc=True),
        entry("seen", "2026-02-02", ("s1", "holds", tiny_p, True)),
        entry("broken", "2026-02-03", ("b1", "holds", tiny_p, False), verdict="INVALID"),
        entry("pending", "2026-02-04", ("n1", None, None, False), verdict=None),
    ]
    result = agenda_fdr(entries, q=0.05)
    assert [(s.hypothesis, s.prediction) for s in result.slots] == [
        ("early", "e1"), ("early", "e2"), ("edited", "x1"), ("seen", "s1"), ("broken", "b1"), ("pending", "n1"),
        ("late", "l1")]
    assert [s.held for s in result.slots] == [True, False, False, False, False, False, True]
    assert (result.held, result.survived) == (2, 2) and result.survivors("early") == 1
    # A held prediction whose p is above its level is supported by its hypothesis, not at the agenda's level.
    weak = agenda_fdr([entry("a", "2026-01-01", ("a1", "holds", 0.04, False))], q=0.05)
    assert weak.held == 1 and weak.survived == 0 and weak.slots[0].level < 0.04


def test_the_calibration_keeps_the_agendas_fdr_at_most_q_over_200_agendas():
    """benchmarks/calibration.py --agenda --quick: simulated agendas through the index's procedure."""
    spec = importlib.util.spec_from_file_location("calibration", ROOT / "benchmarks" / "calibration.py")
    calibration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calibration)
    rows = calibration.agenda_checks(repeats=200, q=0.05, seed=1)
    for r in rows:
        assert r["fdr"] <= 0.05, r
    nulls = rows[0]
    assert nulls["fdr_without_agenda_control"] > 0.5  # what per-hypothesis verdicts alone give
    assert math.isclose(nulls["fdr"], nulls["any_false_discovery"])  # every null true: FDR = P(any false)


def test_the_index_shows_which_held_predictions_survive(tmp_path):
    from refute.loop.scoreboard import score
    from refute.report.index import render_html, render_md

    entries = [{**entry("a", "2026-01-01T00:00:00+00:00", ("a1", "holds", 1e-6, False), ("a2", "holds", 0.04, False)),
                "title": "A", "refines": None, "analysed_at": "2026-01-02T00:00:00+00:00", "stale": False, "held": 2,
                "reports": {}}]
    for p in entries[0]["predictions"]:
        p["prior"] = None
    md = render_md(entries, score(entries), "2026-01-03T00:00")
    assert "| survive agenda FDR (q = 0.05) |" in md and "| 2 of 2 | 1 |" in md
    assert "**1** of 2 held pre-registered prediction(s) survive it" in md
    assert "| 1 | a | a1 | 2026-01-01 00:00 | 1e-06 |" in md and md.count("| yes |") == 1
    html = render_html(entries, score(entries), "2026-01-03T00:00")
    assert 'id="agenda-fdr"' in html and "<b>1</b> of 2 held" in html
