# Content-addressed inputs of the jobs, written by light local jobs (never at parse time, so read-only
# commands write nothing): a hypothesis's plan, a run's spec, a probe job's spec. Each is named by a hash of
# what it holds, so it is written once.


rule plan:
    """Write a hypothesis's validated plan; statistics, reports and the index read it, never the YAML."""
    output:
        str(L.plan_file("{digest}")),
    log:
        str(L.log("plan", "{digest}")),
    localrule: True
    run:
        AGENDA.write_plan(wildcards.digest, output[0], log[0])


rule run_spec:
    """Write a training run's spec (everything that determines its numbers)."""
    output:
        str(L.run_file("{run}", layout.RUN_SPEC)),
    log:
        str(L.log("run_spec", "{run}")),
    localrule: True
    run:
        AGENDA.write_run_spec(wildcards.run, output[0], log[0])


rule probe_spec:
    """Write a probe job's spec (the run, the probe's parameters, a reference run)."""
    output:
        str(L.probe_dir("{probe}") / layout.PROBE_SPEC),
    log:
        str(L.log("probe_spec", "{probe}")),
    localrule: True
    run:
        AGENDA.write_probe_spec(wildcards.probe, output[0], log[0])
