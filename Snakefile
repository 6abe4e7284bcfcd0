# refute: every hypotheses/*.yaml becomes plan -> train -> probes -> stats -> report, and all of them the
# agenda index.
# Run all:  snakemake -c all      One hypothesis:  snakemake -c all results/<id>/report.md
# Snakemake's own report of a finished run:  snakemake --report report.html
# Plan (jobs, models, FLOPs, wall time) without running:  snakemake -n  (writes nothing)
import sys
from pathlib import Path

from snakemake.settings.types import DeploymentMethod
from snakemake.utils import min_version

from refute import layout
from refute.components.user import ENV, folder_for
from refute.layout import Layout
from refute.report import snakemake_report  # the labels of each hypothesis's files in `snakemake --report`
from refute.workflow.agenda import TINY_JOB_S, config_flag, load_agenda, machine_memory_mb

min_version("8.10")

HYPOTHESES = config.get("hypotheses", "hypotheses")
# Explorations (no predictions: runs, observations, events; `refute discover` drafts hypotheses from them).
EXPLORATIONS = config.get("explorations", "explorations")
RESULTS = config.get("results", "results")
# The project's own components: `components/` beside the hypotheses folder, or `--config components=DIR`.
COMPONENTS = folder_for(HYPOTHESES, config.get("components")).resolve()
L = Layout(RESULTS)
# How a rule starts python: the interpreter that runs Snakemake, so jobs see the same installed refute;
# under `--sdm conda`, the rule's environment's python, with this workflow's src/ on the path (the envs
# hold refute's dependencies, not refute). A project with its own components names their folder, by
# absolute path, in every job's command, so each job finds them wherever and however it starts.
# A list of words: rules quote each one ({params.py:q}).
ENVIRONMENT = [f"{ENV}={COMPONENTS}"] if COMPONENTS.is_dir() else []
if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
    PY = ["env", f"PYTHONPATH={Path(workflow.basedir) / 'src'}", *ENVIRONMENT, "python"]
else:
    PY = ["env", *ENVIRONMENT, sys.executable] if ENVIRONMENT else [sys.executable]


# Memory, running locally: Snakemake schedules by mem_mb only under a limit. Without `--resources mem_mb=N`
# the limit is the machine's memory, so jobs never run side by side beyond it; a training job that alone
# needs more than the limit is refused at its start (it fails alone, keep-going runs the rest), instead of
# being started, scaled down to the limit, and killed. Jobs this machine cannot hold are said before
# anything starts (a dry run says it in its plan).
MEM_LIMIT_MB = None
if workflow.local_exec and not workflow.subprocess_exec:
    given = workflow.global_resources.get("mem_mb")
    given = getattr(given, "value", given)  # Snakemake 9 wraps resources, 8 does not
    MEM_LIMIT_MB = given or machine_memory_mb()
    if MEM_LIMIT_MB and not given:
        try:
            from snakemake.resources import Resource

            workflow.global_resources["mem_mb"] = Resource("mem_mb", MEM_LIMIT_MB)
        except ImportError:
            workflow.global_resources["mem_mb"] = MEM_LIMIT_MB

# Validation happens here, at parse time: a bad file stops the workflow before any job runs. Nothing is
# written here, so a dry run, --lint or --summary leaves results/ as it was: the files the jobs read
# (each hypothesis's plan, each run's and probe job's spec) are written when jobs are about to run (onstart).
# `seeds_per_job` caps the seeds trained per job (e.g. `--config seeds_per_job=8`, or in a profile).
AGENDA = load_agenda(
    HYPOTHESES,
    RESULTS,
    seeds_per_job=config.get("seeds_per_job"),
    tiny_job_s=float(config.get("tiny_job_seconds", TINY_JOB_S)),
    components=COMPONENTS,
    explorations=EXPLORATIONS,
    # Pending runs with the same shapes train as one batched model, one job per pack (`--config pack_runs=false`:
    # one job per run); running locally, packs are split so that every core has a job. A job's own Snakemake (a
    # cluster job's) finds the packs this workflow wrote.
    pack=("written" if workflow.remote_exec or workflow.subprocess_exec else config_flag(config, "pack_runs", True)),
    mem_limit_mb=MEM_LIMIT_MB,
    cores=workflow.resource_settings.cores if workflow.local_exec else None,
)
if MEM_LIMIT_MB and not workflow.output_settings.dryrun:
    for line in AGENDA.memory_warnings(MEM_LIMIT_MB):
        print(line, file=sys.stderr)

if workflow.output_settings.dryrun:
    from refute.workflow.preview import plan_text

    print(
        plan_text(AGENDA, cores=workflow.resource_settings.cores, calibrate_here=False),
        flush=True,
    )


report: "rules/report.rst"


wildcard_constraints:
    run="[0-9a-f]{16}",
    probe="[0-9a-f]{16}",
    digest="[0-9a-f]{16}",
    id="[a-z0-9][a-z0-9_-]*",


include: "rules/common.smk"
include: "rules/train.smk"
include: "rules/probes.smk"
include: "rules/stats.smk"
include: "rules/report.smk"
include: "rules/explore.smk"


# Before any job: seal every hypothesis's plan beside its file (hypotheses/.sealed/<id>.json, noting the runs it
# reads that exist already), then write the files the jobs read. A dry run never gets here, so it seals nothing.
onstart:
    AGENDA.write_inputs()


# A run of only some hypotheses (`refute run <id>`, `snakemake results/<id>/report.md`), or one where a job failed,
# does not build the index, whose rule waits for every report: it is brought up to date here, so each report's
# link to it lands and the hypotheses not run show as such. Writes nothing when the index is newer than every report.
onsuccess:
    from refute.report.index import refresh_index

    refresh_index(AGENDA.plan_files(), RESULTS, AGENDA.exploration_plan_files())


onerror:
    from refute.report.index import refresh_index

    try:
        refresh_index(AGENDA.plan_files(), RESULTS, AGENDA.exploration_plan_files())
    except Exception as err:  # the run's own error comes first; this only says why the index is behind
        print(f"refute: the agenda index was not brought up to date: {err}", file=sys.stderr)


rule all:
    default_target: True
    input:
        expand(str(L.hypothesis_file("{id}", layout.REPORT_MD)), id=sorted(AGENDA.hypotheses)),
        str(L.index(layout.INDEX_MD)),
        expand(str(L.exploration_file("{xid}", layout.REPORT_MD)), xid=sorted(AGENDA.explorations)),
        # Every run's and probe job's record too: a run folder deleted (or removed after damage) is made again,
        # and everything downstream of it with it, though the reports that read it still exist.
        AGENDA.records(),
