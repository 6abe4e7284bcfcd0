rule probe:
    """Run one probe on one run's weights (final, or snapshots over training), batched over seeds."""
    input:
        run=lambda wc: AGENDA.probe_inputs(wc.probe),
    output:
        values=str(L.probe_dir("{probe}") / layout.PROBE_VALUES),
        record=str(L.probe_dir("{probe}") / layout.PROBE_RECORD),
    log:
        str(L.log("probe", "{probe}")),
    benchmark:
        str(L.benchmark("probe", "{probe}"))
    # With the statistics and the report: one cluster job per hypothesis after training.
    group:
        "analysis"
    conda:
        "../envs/probes.yaml"
    threads: 1
    params:
        py=PY,
        # written when the workflow starts; content-addressed (its name is the probe hash), so not an input
        spec=lambda wc: str(L.probe_dir(wc.probe) / layout.PROBE_SPEC),
        out=lambda wc: str(L.probe_dir(wc.probe)),
        # the results folder, from this job's own files
        results=lambda wc, output: str(Path(output.values).parents[2]),
    shell:
        "{params.py:q} -m refute.jobs probe {params.spec:q} --out {params.out:q} --results {params.results:q}"
        " --threads {threads} > {log:q} 2>&1"
