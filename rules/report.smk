rule report:
    """Write the verdict report (markdown and self-contained HTML), its learning-curve figures and its probe
    tables and figures."""
    input:
        verdict=f"{RESULTS}/{{id}}/verdict.json",
        predictions=f"{RESULTS}/{{id}}/predictions.json",
        observations=f"{RESULTS}/{{id}}/observations.parquet",
        reduced=f"{RESULTS}/{{id}}/reduced.parquet",
        probes=f"{RESULTS}/{{id}}/probes.parquet",
        # A refinement's report shows its parent's verdict and spec: it waits for the parent's statistics.
        parent=lambda wc: PLAN.parent_outputs(wc.id, "verdict.json"),
    output:
        report=f"{RESULTS}/{{id}}/report.md",
        html=report(f"{RESULTS}/{{id}}/report.html", category="Hypotheses", subcategory="{id}",
                    labels={"hypothesis": "{id}", "file": "report.html"}),
        figures=report(directory(f"{RESULTS}/{{id}}/figures"), patterns=["{metric}.png"], category="Hypotheses",
                       subcategory="{id}", labels={"hypothesis": "{id}", "file": "{metric}.png"}),
    log:
        f"{RESULTS}/logs/report/{{id}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/report/{{id}}.tsv"
    resources:
        mem_mb=1000,
        runtime=10,
    # Seconds of work each: grouped, so a cluster runs a hypothesis's merges, probes, statistics and
    # report as one job.
    group: "analysis"
    conda:
        "../envs/report.yaml"
    shell:
        "{PY} -m refute.jobs report {wildcards.id} --results {RESULTS} > {log} 2>&1"


rule index:
    """The agenda index: every hypothesis, its verdict and lineage, and the prediction scoreboard."""
    input:
        hypotheses=lambda wc: [str(h.path) for h in PLAN.hypotheses.values()],
        reports=expand(f"{RESULTS}/{{id}}/report.html", id=sorted(PLAN.hypotheses)),
        verdicts=expand(f"{RESULTS}/{{id}}/verdict.json", id=sorted(PLAN.hypotheses)),
    output:
        md=f"{RESULTS}/index.md",
        html=report(f"{RESULTS}/index.html", category="Agenda", labels={"page": "index.html"}),
    log:
        f"{RESULTS}/logs/index.log",
    benchmark:
        f"{RESULTS}/benchmarks/index.tsv"
    # Seconds of work after everything else: run where Snakemake runs, not through a cluster queue.
    localrule: True
    conda:
        "../envs/report.yaml"
    shell:
        "{PY} -m refute.jobs index --hypotheses {HYPOTHESES} --results {RESULTS} > {log} 2>&1"
