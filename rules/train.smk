from refute.workflow import threads_for


rule train:
    """Train every seed of one run (one condition) as a single seed-batched model."""
    input:
        spec=f"{RESULTS}/runs/{{run}}/spec.json",
    output:
        metrics=f"{RESULTS}/runs/{{run}}/metrics.parquet",
        weights=f"{RESULTS}/runs/{{run}}/weights.pt",
        snapshots=f"{RESULTS}/runs/{{run}}/snapshots.pt",
        meta=f"{RESULTS}/runs/{{run}}/run.json",
    log:
        f"{RESULTS}/logs/train/{{run}}.log",
    threads: lambda wc: threads_for(PLAN.runs[wc.run])
    conda:
        "../envs/refute.yaml"
    shell:
        "'{PY}' -m refute.jobs train {input.spec} --out $(dirname {output.metrics}) --threads {threads} > {log} 2>&1"
