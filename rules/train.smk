# A run's outputs come from `train` (all seeds in one job) or, when its seeds are split across jobs,
# from `train_chunk` (one job per chunk) and `merge_seeds`; the run constraints say which, per run.
# Resources (memory, time limit, CPUs, a GPU when the hypothesis asks for `device: cuda`) are derived
# from the run spec by refute.scaling.costs; the device request reaches the job as a resource, so changing
# it neither changes the run hash nor reruns a finished run. Each job's message names the hypotheses and
# conditions sharing its run, for people (refute.workflow.agenda.People: who shares a run never reruns it),
# and what the job asks for (Snakemake shows a message instead of the rule's details).


rule train:
    """Train every seed of one run (one condition) as a single seed-batched model."""
    output:
        **{name: str(L.run_file("{run}", f)) for name, f in layout.RUN_OUTPUT_NAMES.items()},
    log:
        str(L.log("train", "{run}")),
    benchmark:
        str(L.benchmark("train", "{run}"))
    wildcard_constraints:
        run=AGENDA.run_pattern(chunked=False),
    group:
        lambda wc: AGENDA.train_group(wc)
    conda:
        "../envs/train.yaml"
    threads: lambda wc: AGENDA.threads(wc.run)
    resources:
        mem_mb=lambda wc, threads: AGENDA.resources(wc, threads)["mem_mb"],
        runtime=lambda wc, threads: AGENDA.resources(wc, threads)["runtime"],
        cpus_per_task=lambda wc, threads: threads,
        gpu=lambda wc, threads: AGENDA.resources(wc, threads)["gpu"],
        train_device=lambda wc, threads: AGENDA.resources(wc, threads)["train_device"],
        # Why the job must not start (more memory than the workflow's limit), or "": a resource, not a
        # param, so a changed limit never reruns a finished run.
        refuse=lambda wc: AGENDA.memory_refusal(wc, MEM_LIMIT_MB),
    params:
        py=PY,
        # Written when the workflow starts; content-addressed (its name is the run hash), so not an input. Read
        # from the outputs, so Snakemake keeps spec and out out of its params rerun trigger: a run a pack's job
        # made (below) is then done for this rule too.
        spec=lambda wc, output: str(Path(output.meta).with_name(layout.RUN_SPEC)),
        out=lambda wc, output: str(Path(output.meta).parent),
        seeds=[],
        people=lambda wc: AGENDA.people(wc.run),
    message:
        "train {params.people} (run {wildcards.run}; threads={threads}, mem_mb={resources.mem_mb}, runtime={resources.runtime}, gpu={resources.gpu}, train_device={resources.train_device})"
    shell:
        "{params.py:q} -m refute.jobs train {params.spec:q} --out {params.out:q} --threads {threads}"
        " --device {resources.train_device} --refuse={resources.refuse:q} {params.seeds:q} > {log:q} 2>&1"


use rule train as train_chunk with:
    output:
        **{name: str(L.chunk_dir("{run}", "{lo}", "{hi}") / f) for name, f in layout.RUN_OUTPUT_NAMES.items()},
    log:
        str(L.log("train", "{run}-seeds-{lo}-{hi}")),
    benchmark:
        str(L.benchmark("train", "{run}-seeds-{lo}-{hi}"))
    wildcard_constraints:
        run=AGENDA.run_pattern(chunked=True),
        lo=r"\d+",
        hi=r"\d+",
    params:
        py=PY,
        spec=lambda wc: str(L.run_file(wc.run, layout.RUN_SPEC)),
        out=lambda wc: str(L.chunk_dir(wc.run, wc.lo, wc.hi)),
        # positions lo..hi-1 of the run's seed list
        seeds=lambda wc: ["--seeds", f"{wc.lo}:{wc.hi}"],
        people=lambda wc: AGENDA.people(wc.run),
    message:
        "train {params.people}, seeds {wildcards.lo}..{wildcards.hi} (run {wildcards.run}; threads={threads}, mem_mb={resources.mem_mb}, runtime={resources.runtime}, gpu={resources.gpu}, train_device={resources.train_device})"


rule merge_seeds:
    """Merge a split run's seed chunks into the run's outputs, as if one job had trained every seed."""
    input:
        metrics=lambda wc: AGENDA.chunk_outputs(wc.run, layout.METRICS),
        weights=lambda wc: AGENDA.chunk_outputs(wc.run, layout.WEIGHTS),
        snapshots=lambda wc: AGENDA.chunk_outputs(wc.run, layout.SNAPSHOTS),
        meta=lambda wc: AGENDA.chunk_outputs(wc.run, layout.RUN_RECORD),
    output:
        **{name: str(L.run_file("{run}", f)) for name, f in layout.RUN_OUTPUT_NAMES.items()},
    log:
        str(L.log("merge", "{run}")),
    benchmark:
        str(L.benchmark("merge", "{run}"))
    wildcard_constraints:
        run=AGENDA.run_pattern(chunked=True),
    # With the probes, statistics and report: one cluster job per hypothesis after training.
    group:
        "analysis"
    conda:
        "../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        py=PY,
        chunks=lambda wc: AGENDA.chunk_dirs(wc.run),
        out=lambda wc: str(L.run_dir(wc.run)),
        people=lambda wc: AGENDA.people(wc.run),
    message:
        "merge the seed chunks of {params.people} (run {wildcards.run})"
    shell:
        "{params.py:q} -m refute.jobs merge {params.chunks:q} --out {params.out:q} > {log:q} 2>&1"


# Pending runs with the same shapes, trained as one batched model (refute.training.lanes): one job per pack, each
# run's outputs in its own folder. The same command as `train` (the pack's file in place of a run spec), so a run
# made here is, for Snakemake, made by `train` too: it is never trained again once done.
for pack in AGENDA.packs:

    rule:
        name:
            f"train_pack_{pack}"
        output:
            AGENDA.pack_outputs(pack),
        log:
            str(L.log("train", f"pack-{pack}")),
        benchmark:
            str(L.benchmark("train", f"pack-{pack}"))
        group:
            AGENDA.pack_group(pack)
        conda:
            "../envs/train.yaml"
        threads: AGENDA.pack_threads(pack)
        resources:
            mem_mb=AGENDA.pack_resources(pack)["mem_mb"],
            runtime=lambda wc, threads, pack=pack: AGENDA.pack_resources(pack, threads)["runtime"],
            cpus_per_task=lambda wc, threads: threads,
            gpu=AGENDA.pack_resources(pack)["gpu"],
            train_device=AGENDA.pack_resources(pack)["train_device"],
            refuse=AGENDA.pack_refusal(pack, MEM_LIMIT_MB),
        params:
            py=PY,
            spec=lambda wc, output, pack=pack: str(L.pack_file(pack)),
            out=lambda wc, output, pack=pack: str(L.pack_dir(pack)),
            seeds=[],
            people=AGENDA.pack_people(pack),
            pack=lambda wc, output, pack=pack: pack,
        message:
            "train {params.people} as one batched model (pack {params.pack}; threads={threads}, mem_mb={resources.mem_mb}, runtime={resources.runtime}, gpu={resources.gpu}, train_device={resources.train_device})"
        shell:
            "{params.py:q} -m refute.jobs train {params.spec:q} --out {params.out:q} --threads {threads}"
            " --device {resources.train_device} --refuse={resources.refuse:q} {params.seeds:q} > {log:q} 2>&1"
