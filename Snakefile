# refute: every hypotheses/*.yaml becomes train -> probes -> stats -> report, and all of them the
# agenda index.
# Run all:  snakemake -c all      One hypothesis:  snakemake -c all results/<id>/report.md
# Snakemake's own report of a finished run:  snakemake --report report.html
import sys

from refute.workflow import load_plan

HYPOTHESES = config.get("hypotheses", "hypotheses")
RESULTS = config.get("results", "results")
PY = sys.executable  # the interpreter that runs Snakemake, so jobs see the same installed refute

# Validation happens here, at parse time: a bad file stops the workflow before any job runs.
PLAN = load_plan(HYPOTHESES, RESULTS)

report: "rules/report.rst"

wildcard_constraints:
    run="[0-9a-f]{16}",
    probe="[0-9a-f]{16}",
    id="[a-z0-9][a-z0-9_-]*",


include: "rules/train.smk"
include: "rules/probes.smk"
include: "rules/stats.smk"
include: "rules/report.smk"


rule all:
    input:
        expand(f"{RESULTS}/{{id}}/report.md", id=sorted(PLAN.hypotheses)),
        f"{RESULTS}/index.md",
    default_target: True
