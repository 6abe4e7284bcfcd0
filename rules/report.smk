rule report:
    """Write the verdict report and its learning-curve figures."""
    input:
        verdict=f"{RESULTS}/{{id}}/verdict.json",
        predictions=f"{RESULTS}/{{id}}/predictions.json",
        observations=f"{RESULTS}/{{id}}/observations.parquet",
        reduced=f"{RESULTS}/{{id}}/reduced.parquet",
    output:
        report=f"{RESULTS}/{{id}}/report.md",
        figures=directory(f"{RESULTS}/{{id}}/figures"),
    log:
        f"{RESULTS}/logs/report/{{id}}.log",
    resources:
        mem_mb=1000,
        runtime=10,
    # Seconds of work each: grouped, so a cluster runs a hypothesis's merge, statistics and report as
    # one job.
    group: "analysis"
    conda:
        "../envs/report.yaml"
    shell:
        "{PY} -m refute.jobs report {wildcards.id} --results {RESULTS} > {log} 2>&1"
