"""The HTML report and the agenda index in a real headless browser: they load without a console message,
and render (the verdict badge and a figure's colours are on screen), a prediction's figure included."""

import shutil
import subprocess

import numpy as np
import pytest

from conftest import TINY, plan_of, prediction_records, reduced_table, verdict_record, write_plan_file, write_records

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0"]
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")


def screenshot(page, out, profile, size=(1280, 2400)):
    """The page's screenshot as RGB pixels, and what the browser logged from the page's console."""
    from PIL import Image

    run = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                          f"--screenshot={out}", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    img = Image.open(out).convert("RGB")
    assert img.size == size
    return np.asarray(img, dtype=int).reshape(-1, 3), console


def share(pixels, rgb, tolerance=30):
    """The share of pixels within `tolerance` (summed over channels) of a colour."""
    return float((np.abs(pixels - np.array(rgb)).sum(axis=1) < tolerance).mean())


def test_the_report_and_the_index_load_cleanly_and_render_in_a_real_browser(tmp_path):
    from refute.report.html import write_html_report
    from refute.report.index import write_index
    from refute.report.markdown import write_report

    plan = plan_of({**TINY, "id": "h"})
    preds = prediction_records(plan, {"fits": "holds"})
    write_records(tmp_path, plan, verdict_record(plan, preds, "SUPPORTED"), preds, reduced_table(preds))
    write_report("h", tmp_path)
    report = write_html_report("h", tmp_path)
    write_index([write_plan_file(plan, tmp_path)], tmp_path)

    pixels, console = screenshot(report, tmp_path / "report.png", tmp_path / "profile")
    assert console == []  # no error, nothing logged: the page has no scripts and fetches nothing
    assert share(pixels, (0xFF, 0xFF, 0xFF)) < 0.97  # not blank
    assert share(pixels, (0x1A, 0x7F, 0x37)) > 1e-4  # the SUPPORTED badge (and the figure's holds region)
    assert share(pixels, (0x1F, 0x77, 0xB4)) > 1e-5  # matplotlib's first colour: the figures are drawn

    pixels, console = screenshot(tmp_path / "index.html", tmp_path / "index.png", tmp_path / "profile", (1280, 900))
    assert console == [] and share(pixels, (0xFF, 0xFF, 0xFF)) < 0.99
    assert share(pixels, (0x1A, 0x7F, 0x37)) > 1e-5  # the verdict badge on the index
