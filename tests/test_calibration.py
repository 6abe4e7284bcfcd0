"""The calibration benchmark's quick mode runs end to end (CI runs it; the committed tables come from the full
run): every section is written, and the checks that cannot fail by chance do not."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def test_the_quick_calibration_writes_every_section(tmp_path):
    out = tmp_path / "calibration.md"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "calibration.py"), "--quick", "--out", str(out)],
                         capture_output=True, text=True, timeout=1200)
    # 20 comparisons per check: a rate may exceed its bound by chance, so the exit status is not asserted.
    assert run.returncode in (0, 1), run.stderr[-3000:]
    report = json.loads(out.with_name("calibration_quick.json").read_text())
    for section in ("aa", "power", "refuted", "coverage", "power_law", "ceiling", "censoring"):
        # CI coverage (every CI, the exponents' too) is checked on five times the comparisons.
        assert report[section] and all(r["comparisons"] == (100 if "CI" in r.get("check", "") else 20)
                                       for r in report[section]), section
    # Two or three runs at a ceiling can never make an exact test hold at α = 0.05 (p ≥ 1/8).
    few = [r for r in report["ceiling"] if r["check"].startswith("threshold") and r["n"] in (2, 3)]
    assert len(few) == 2 and all(r["hits"] == 0 for r in few)
    text = out.with_name("calibration_quick.md").read_text()
    assert "## Runs at a ceiling (exact tests)" in text and "## CI coverage per kind" in text


def test_the_quick_sequential_calibration_holds_its_bounds_where_the_naive_loop_cannot(tmp_path):
    out = tmp_path / "calibration_sequential.md"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "calibration_sequential.py"), "--quick",
                          "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode in (0, 1), run.stderr[-3000:]
    rows = json.loads(out.with_name("calibration_sequential_quick.json").read_text())
    assert all(r["repeats"] == 40 for r in rows)
    # The e-values are conservative: with 40 hypotheses a false decision is rare enough that one at most.
    assert all(r["sequential"] <= 0.05 for r in rows if r["allowed"] is not None)
    assert "naive loop" in out.with_name("calibration_sequential_quick.md").read_text()
