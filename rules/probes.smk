rule probe:
    """Run one probe on one run's weights (final, or snapshots over training), batched over seeds."""
    input:
        spec=f"{RESULTS}/probes/{{probe}}/spec.json",
        run=lambda wc: PLAN.probe_inputs(wc.probe),
    output:
        values=f"{RESULTS}/probes/{{probe}}/values.parquet",
        record=f"{RESULTS}/probes/{{probe}}/probe.json",
    log:
        f"{RESULTS}/logs/probe/{{probe}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/probe/{{probe}}.tsv"
    threads: 1
    # With the statistics and the report: one cluster job per hypothesis after training.
    group: "analysis"
    conda:
        "../envs/probes.yaml"
    shell:
        "{PY} -m refute.jobs probe {input.spec} --out $(dirname {output.values}) --results {RESULTS} --threads {threads} > {log} 2>&1"
