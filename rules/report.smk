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
    conda:
        "../envs/refute.yaml"
    shell:
        "'{PY}' -m refute.jobs report {wildcards.id} --results {RESULTS} > {log} 2>&1"
