checkpoint look:
    """After a round of a sequential hypothesis: are its predictions decided, or is another round needed?"""
    input:
        metrics=lambda wc: AGENDA.round_outputs(wc.id, wc.round, layout.METRICS),
        meta=lambda wc: AGENDA.round_outputs(wc.id, wc.round, layout.RUN_RECORD),
    output:
        str(L.round_file("{id}", "{round}")),
    log:
        str(L.log("look", "{id}-round-{round}")),
    wildcard_constraints:
        round=r"\d+",
    conda:
        "../envs/stats.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        py=PY,
        plan=lambda wc: AGENDA.plan_file(wc.id),
        results=lambda wc, output: str(Path(output[0]).parent.parent.parent),
    shell:
        "{params.py:q} -m refute.jobs round {params.plan:q} {wildcards.round} --results {params.results:q} > {log:q} 2>&1"


rule stats:
    """Gather runs and probes, reduce each run, test each prediction, decide the verdict of one hypothesis."""
    input:
        metrics=lambda wc: AGENDA.run_outputs(wc.id, layout.METRICS, rounds_to_analyse(wc)),
        meta=lambda wc: AGENDA.run_outputs(wc.id, layout.RUN_RECORD, rounds_to_analyse(wc)),
        probes=lambda wc: AGENDA.probe_outputs(wc.id),
    # In Snakemake's report beside the hypothesis's report: the verdict and the tables it was decided from.
    output:
        verdict=report(
            str(L.hypothesis_file("{id}", layout.VERDICT)),
            category="Hypotheses",
            subcategory="{id}",
            labels=snakemake_report.labels(layout.VERDICT),
        ),
        predictions=report(
            str(L.hypothesis_file("{id}", layout.PREDICTIONS)),
            category="Hypotheses",
            subcategory="{id}",
            labels=snakemake_report.labels(layout.PREDICTIONS),
        ),
        observations=report(
            str(L.hypothesis_file("{id}", layout.OBSERVATIONS)),
            category="Hypotheses",
            subcategory="{id}",
            labels=snakemake_report.labels(layout.OBSERVATIONS),
        ),
        reduced=report(
            str(L.hypothesis_file("{id}", layout.REDUCED)),
            category="Hypotheses",
            subcategory="{id}",
            labels=snakemake_report.labels(layout.REDUCED),
        ),
        probes=str(L.hypothesis_file("{id}", layout.PROBE_TABLE)),
    log:
        str(L.log("stats", "{id}")),
    benchmark:
        str(L.benchmark("stats", "{id}"))
    # Seconds of work each: grouped, so a cluster runs a hypothesis's merges, probes, statistics and
    # report as one job.
    group:
        "analysis"
    conda:
        "../envs/stats.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        py=PY,
        # The plan file, written when the workflow starts: named by its content, so an edited hypothesis
        # changes this parameter, and the statistics rerun.
        plan=lambda wc: AGENDA.plan_file(wc.id),
        # the results folder, from this job's own files
        results=lambda wc, output: str(Path(output.verdict).parent.parent),
    shell:
        "{params.py:q} -m refute.jobs stats {params.plan:q} --results {params.results:q} > {log:q} 2>&1"
