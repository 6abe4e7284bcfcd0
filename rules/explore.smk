# Explorations (explorations/*.yaml): their runs are trained by the rules of train.smk (shared by hash with
# the hypotheses); `observe` runs the event detectors on them and `observation_report` writes the report.


rule observe:
    """Reduce an exploration's runs, run its event detectors and correct their p-values across candidates."""
    input:
        metrics=lambda wc: AGENDA.exploration_run_outputs(wc.xid, layout.METRICS),
        meta=lambda wc: AGENDA.exploration_run_outputs(wc.xid, layout.RUN_RECORD),
        probes=lambda wc: AGENDA.probe_outputs(wc.xid),
    output:
        observations=str(L.exploration_file("{xid}", layout.OBSERVATIONS)),
        reduced=str(L.exploration_file("{xid}", layout.REDUCED)),
        events=str(L.exploration_file("{xid}", layout.EVENTS)),
    log:
        str(L.log("observe", "{xid}")),
    benchmark:
        str(L.benchmark("observe", "{xid}"))
    wildcard_constraints:
        xid="[a-z0-9][a-z0-9_-]*",
    group:
        "analysis"
    conda:
        "../envs/stats.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        py=PY,
        # written when the workflow starts, named by its content (like a hypothesis's plan)
        plan=lambda wc: AGENDA.exploration_plan_file(wc.xid),
        results=lambda wc, output: str(Path(output.events).parents[2]),
    shell:
        "{params.py:q} -m refute.jobs observe {params.plan:q} --results {params.results:q} > {log:q} 2>&1"


rule observation_report:
    """Write an exploration's observation report (markdown and self-contained HTML) and its figures."""
    input:
        events=str(L.exploration_file("{xid}", layout.EVENTS)),
    output:
        report=str(L.exploration_file("{xid}", layout.REPORT_MD)),
        html=str(L.exploration_file("{xid}", layout.REPORT_HTML)),
        figures=directory(str(L.exploration_file("{xid}", layout.FIGURES))),
    log:
        str(L.log("observation_report", "{xid}")),
    benchmark:
        str(L.benchmark("observation_report", "{xid}"))
    wildcard_constraints:
        xid="[a-z0-9][a-z0-9_-]*",
    group:
        "analysis"
    conda:
        "../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        py=PY,
        results=lambda wc, output: str(Path(output.report).parents[2]),
    shell:
        "{params.py:q} -m refute.jobs observation-report {wildcards.xid} --results {params.results:q} > {log:q} 2>&1"
