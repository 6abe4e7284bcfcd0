rule report:
    """Write the verdict report, its learning-curve figures and its probe tables and figures."""
    input:
        verdict=f"{RESULTS}/{{id}}/verdict.json",
        predictions=f"{RESULTS}/{{id}}/predictions.json",
        observations=f"{RESULTS}/{{id}}/observations.parquet",
        reduced=f"{RESULTS}/{{id}}/reduced.parquet",
        probes=f"{RESULTS}/{{id}}/probes.parquet",
    output:
        report=f"{RESULTS}/{{id}}/report.md",
        figures=directory(f"{RESULTS}/{{id}}/figures"),
    log:
        f"{RESULTS}/logs/report/{{id}}.log",
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
