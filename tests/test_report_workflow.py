"""The reports through the real Snakemake DAG: a run of one hypothesis of two leaves an agenda index whose
links land (the other shown as not run), and `snakemake --report` lists every verdict on its landing page and
carries each hypothesis's verdict.json and tables."""

import copy
import re
import subprocess
import sys
import zipfile

import pytest

from conftest import FITS_BY_LOSS, ROOT, TINY, write_yaml

pytestmark = pytest.mark.slow
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--cores", "2"]


def snakemake(root, *args):
    out = subprocess.run([*SNAKEMAKE, "-d", str(root), *args], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    for hid in ("alpha", "beta"):
        spec = {**copy.deepcopy(TINY), "id": hid, "predictions": [dict(FITS_BY_LOSS)]}
        spec["train"].update(steps=30, eval_every=5)
        write_yaml(root / "hypotheses" / f"{hid}.yaml", spec)
    return root


def test_a_run_of_one_hypothesis_leaves_an_index_its_report_links_to(project):
    snakemake(project, "results/alpha/report.md")
    results = project / "results"
    assert not (results / "beta").exists()
    report = (results / "alpha" / "report.html").read_text()
    assert '<a href="../index.html">agenda index</a>' in report and (results / "index.html").exists()
    index = (results / "index.html").read_text()
    assert '<a href="alpha/report.html">alpha</a>' in index
    assert re.search(r"<b>beta</b>: [^<]*</td>\s*<td><span class=\"badge pending\">not run</span>", index)
    links = re.findall(r'href="([^"#]+)"', index)
    assert links and all((results / link).exists() for link in links)  # every link lands


def test_snakemakes_report_lists_the_verdicts_and_carries_verdicts_and_tables(project):
    snakemake(project)  # the rest, then the report of everything
    snakemake(project, "--report", "report.zip")
    with zipfile.ZipFile(project / "report.zip") as z:
        names = [n.rsplit("/", 1)[-1] for n in z.namelist() if "/data/" in n]  # the files it carries
        page = z.read("report/report.html").decode()
    for name in ("verdict.json", "predictions.json", "reduced.parquet", "observations.parquet", "report.html",
                 "prediction-fits.png"):
        assert names.count(name) == 2, name  # one per hypothesis
    verdicts = {h: __import__("json").loads((project / "results" / h / "verdict.json").read_text())["verdict"]
                for h in ("alpha", "beta")}
    # The landing page (rules/report.rst): a table of the verdicts, one row per hypothesis.
    table = page.split("Verdicts</caption>")[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([^<]+)</td>\\n<td>([^<]+)</td>\\n<td>([^<]+)</td>", table)
    assert rows == [("alpha", verdicts["alpha"], "0 of 1" if verdicts["alpha"] != "SUPPORTED" else "1 of 1"),
                    ("beta", verdicts["beta"], "0 of 1" if verdicts["beta"] != "SUPPORTED" else "1 of 1")]
