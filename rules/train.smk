from refute.workflow.agenda import threads_for

# A run's outputs come from `train` (all seeds in one job) or, when its seeds are split across jobs,
# from `train_chunk` (one job per chunk) and `merge_seeds`; the run constraints say which, per run.
# Resources (memory, time limit, CPUs, a GPU when the hypothesis asks for `device: cuda`) are derived
# from the run spec by refute.scaling.costs; the device request reaches the job as a resource, so changing it
# neither changes the run hash nor reruns a finished run.


rule train:
    """Train every seed of one run (one condition) as a single seed-batched model."""
    wildcard_constraints:
        run=PLAN.run_pattern(chunked=False),
    input:
        spec=f"{RESULTS}/runs/{{run}}/spec.json",
    output:
        metrics=f"{RESULTS}/runs/{{run}}/metrics.parquet",
        weights=f"{RESULTS}/runs/{{run}}/weights.pt",
        snapshots=f"{RESULTS}/runs/{{run}}/snapshots.pt",
        meta=f"{RESULTS}/runs/{{run}}/run.json",
    log:
        f"{RESULTS}/logs/train/{{run}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{run}}.tsv"
    threads: lambda wc: threads_for(PLAN.runs[wc.run])
    resources:
        mem_mb=lambda wc, threads: PLAN.resources(wc, threads)["mem_mb"],
        runtime=lambda wc, threads: PLAN.resources(wc, threads)["runtime"],
        cpus_per_task=lambda wc, threads: threads,
        gpu=lambda wc, threads: PLAN.resources(wc, threads)["gpu"],
        train_device=lambda wc, threads: PLAN.resources(wc, threads)["train_device"],
    group: lambda wc: PLAN.train_group(wc)
    conda:
        "../envs/train.yaml"
    shell:
        "{PY} -m refute.jobs train {input.spec} --out $(dirname {output.metrics}) --threads {threads}"
        " --device {resources.train_device} > {log} 2>&1"


rule train_chunk:
    """Train seeds lo..hi-1 (positions in the run's seed list) of a run whose seeds are split across jobs."""
    wildcard_constraints:
        run=PLAN.run_pattern(chunked=True),
        lo=r"\d+",
        hi=r"\d+",
    input:
        spec=f"{RESULTS}/runs/{{run}}/spec.json",
    output:
        metrics=f"{RESULTS}/runs/{{run}}/seeds-{{lo}}-{{hi}}/metrics.parquet",
        weights=f"{RESULTS}/runs/{{run}}/seeds-{{lo}}-{{hi}}/weights.pt",
        snapshots=f"{RESULTS}/runs/{{run}}/seeds-{{lo}}-{{hi}}/snapshots.pt",
        meta=f"{RESULTS}/runs/{{run}}/seeds-{{lo}}-{{hi}}/run.json",
    log:
        f"{RESULTS}/logs/train/{{run}}-seeds-{{lo}}-{{hi}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{run}}-seeds-{{lo}}-{{hi}}.tsv"
    threads: lambda wc: threads_for(PLAN.runs[wc.run])
    resources:
        mem_mb=lambda wc, threads: PLAN.resources(wc, threads)["mem_mb"],
        runtime=lambda wc, threads: PLAN.resources(wc, threads)["runtime"],
        cpus_per_task=lambda wc, threads: threads,
        gpu=lambda wc, threads: PLAN.resources(wc, threads)["gpu"],
        train_device=lambda wc, threads: PLAN.resources(wc, threads)["train_device"],
    group: lambda wc: PLAN.train_group(wc)
    conda:
        "../envs/train.yaml"
    shell:
        "{PY} -m refute.jobs train {input.spec} --out $(dirname {output.metrics}) --threads {threads}"
        " --device {resources.train_device} --seeds {wildcards.lo}:{wildcards.hi} > {log} 2>&1"


rule merge_seeds:
    """Merge a split run's seed chunks into the run's outputs, as if one job had trained every seed."""
    wildcard_constraints:
        run=PLAN.run_pattern(chunked=True),
    input:
        metrics=lambda wc: PLAN.chunk_outputs(wc.run, "metrics.parquet"),
        weights=lambda wc: PLAN.chunk_outputs(wc.run, "weights.pt"),
        snapshots=lambda wc: PLAN.chunk_outputs(wc.run, "snapshots.pt"),
        meta=lambda wc: PLAN.chunk_outputs(wc.run, "run.json"),
    output:
        metrics=f"{RESULTS}/runs/{{run}}/metrics.parquet",
        weights=f"{RESULTS}/runs/{{run}}/weights.pt",
        snapshots=f"{RESULTS}/runs/{{run}}/snapshots.pt",
        meta=f"{RESULTS}/runs/{{run}}/run.json",
    log:
        f"{RESULTS}/logs/merge/{{run}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/merge/{{run}}.tsv"
    params:
        chunks=lambda wc: PLAN.chunk_dirs(wc.run),
    resources:
        mem_mb=2000,
        runtime=10,
    # With the probes, statistics and report: one cluster job per hypothesis after training.
    group: "analysis"
    conda:
        "../envs/train.yaml"
    shell:
        "{PY} -m refute.jobs merge {params.chunks} --out $(dirname {output.metrics}) > {log} 2>&1"
