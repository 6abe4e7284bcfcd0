rule report:
    """Write the verdict report (markdown and self-contained HTML), its learning-curve figures and its probe
    tables and figures."""
    input:
        verdict=str(L.hypothesis_file("{id}", layout.VERDICT)),
        predictions=str(L.hypothesis_file("{id}", layout.PREDICTIONS)),
        observations=str(L.hypothesis_file("{id}", layout.OBSERVATIONS)),
        reduced=str(L.hypothesis_file("{id}", layout.REDUCED)),
        probes=str(L.hypothesis_file("{id}", layout.PROBE_TABLE)),
        # A refinement's report shows its parent's verdict and spec: it waits for the parent's statistics.
        parent=lambda wc: AGENDA.parent_outputs(wc.id, layout.VERDICT),
    output:
        report=str(L.hypothesis_file("{id}", layout.REPORT_MD)),
        html=report(
            str(L.hypothesis_file("{id}", layout.REPORT_HTML)),
            category="Hypotheses",
            subcategory="{id}",
            # hypothesis, verdict, predictions held, file: rules/report.rst lists the verdicts from them
            labels=snakemake_report.labels("report.html"),
        ),
        figures=report(
            directory(str(L.hypothesis_file("{id}", layout.FIGURES))),
            patterns=["{metric}.png"],
            category="Hypotheses",
            subcategory="{id}",
            labels=snakemake_report.labels("{metric}.png"),
        ),
    log:
        str(L.log("report", "{id}")),
    benchmark:
        str(L.benchmark("report", "{id}"))
    # Seconds of work each: grouped, so a cluster runs a hypothesis's merges, probes, statistics and
    # report as one job.
    group:
        "analysis"
    conda:
        "../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        py=PY,
        # the results folder, from this job's own files
        results=lambda wc, output: str(Path(output.report).parent.parent),
    shell:
        "{params.py:q} -m refute.jobs report {wildcards.id} --results {params.results:q} > {log:q} 2>&1"


rule index:
    """The agenda index: every hypothesis, its verdict and lineage, and the prediction scoreboard."""
    input:
        reports=expand(str(L.hypothesis_file("{id}", layout.REPORT_HTML)), id=sorted(AGENDA.hypotheses)),
        verdicts=expand(str(L.hypothesis_file("{id}", layout.VERDICT)), id=sorted(AGENDA.hypotheses)),
        # the index counts each exploration's drafts by verdict
        events=expand(str(L.exploration_file("{xid}", layout.EVENTS)), xid=sorted(AGENDA.explorations)),
    output:
        md=str(L.index(layout.INDEX_MD)),
        html=report(str(L.index(layout.INDEX_HTML)), category="Agenda", labels={"page": "index.html"}),
    log:
        str(L.log("index", "index")),
    benchmark:
        str(L.benchmark("index", "index"))
    # Seconds of work after everything else: run where Snakemake runs, not through a cluster queue.
    localrule: True
    conda:
        "../envs/report.yaml"
    params:
        py=PY,
        plans=AGENDA.plan_files(),
        explorations=["--explorations", *AGENDA.exploration_plan_files()] if AGENDA.explorations else [],
        # the results folder, from this job's own files
        results=lambda wc, output: str(Path(output.md).parent),
    shell:
        "{params.py:q} -m refute.jobs index --results {params.results:q} --plans {params.plans:q} {params.explorations:q}"
        " > {log:q} 2>&1"
