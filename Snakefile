# refute: every hypotheses/*.yaml becomes train -> probes -> stats -> report, and all of them the
# agenda index.
# Run all:  snakemake -c all      One hypothesis:  snakemake -c all results/<id>/report.md
# Snakemake's own report of a finished run:  snakemake --report report.html
# Plan (jobs, models, FLOPs, wall time) without running:  snakemake -n
import shlex
import sys
from pathlib import Path

from snakemake.settings.types import DeploymentMethod

from refute.workflow.agenda import TINY_JOB_S, load_plan

HYPOTHESES = config.get("hypotheses", "hypotheses")
RESULTS = config.get("results", "results")
# How a rule starts python: the interpreter that runs Snakemake, so jobs see the same installed refute;
# under `--sdm conda`, the rule's environment's python, with this workflow's src/ on the path (the envs
# hold refute's dependencies, not refute).
if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
    PY = "env PYTHONPATH=" + shlex.quote(str(Path(workflow.basedir) / "src")) + " python"
else:
    PY = shlex.quote(sys.executable)

# Validation happens here, at parse time: a bad file stops the workflow before any job runs.
# `seeds_per_job` caps the seeds trained per job (e.g. `--config seeds_per_job=8`, or in a profile).
PLAN = load_plan(HYPOTHESES, RESULTS, seeds_per_job=config.get("seeds_per_job"),
                 tiny_job_s=float(config.get("tiny_job_seconds", TINY_JOB_S)))

if workflow.output_settings.dryrun:
    from refute.scaling.estimate import plan_text

    print(plan_text(PLAN, cores=workflow.resource_settings.cores), flush=True)

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
