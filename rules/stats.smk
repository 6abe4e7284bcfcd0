rule stats:
    """Gather runs and probes, reduce each run, test each prediction, decide the verdict of one hypothesis."""
    input:
        hypothesis=lambda wc: str(PLAN.hypotheses[wc.id].path),
        metrics=lambda wc: PLAN.run_outputs(wc.id, "metrics.parquet"),
        meta=lambda wc: PLAN.run_outputs(wc.id, "run.json"),
        probes=lambda wc: PLAN.probe_outputs(wc.id),
    output:
        verdict=f"{RESULTS}/{{id}}/verdict.json",
        predictions=f"{RESULTS}/{{id}}/predictions.json",
        observations=f"{RESULTS}/{{id}}/observations.parquet",
        reduced=f"{RESULTS}/{{id}}/reduced.parquet",
        probes=f"{RESULTS}/{{id}}/probes.parquet",
    log:
        f"{RESULTS}/logs/stats/{{id}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/stats/{{id}}.tsv"
    resources:
        mem_mb=1000,
        runtime=10,
    # Seconds of work each: grouped, so a cluster runs a hypothesis's merges, probes, statistics and
    # report as one job.
    group: "analysis"
    conda:
        "../envs/stats.yaml"
    shell:
        "{PY} -m refute.jobs stats {input.hypothesis} --results {RESULTS} > {log} 2>&1"
