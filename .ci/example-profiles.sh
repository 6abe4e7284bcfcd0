#!/usr/bin/env bash
# The grokking example to its verdict twice: on the workstation profile (profiles/default) and through the
# SLURM cluster that .ci/slurm.sh started (profiles/slurm). The verdicts and every prediction's outcome must
# match, and every SLURM training run must show it went through sbatch: its SLURM job id in run.json, the
# job COMPLETED in squeue, a submit line in slurmctld's log and a kept plugin log.
set -euo pipefail
cd "$(dirname "$0")/.."

HYP=${1:-grokking-weight-decay}
WORK=$(mktemp -d /tmp/refute-profiles.XXXXXX)
CTLD_LOG=${SLURM_ROOT:-/tmp/refute-slurm}/log/slurmctld.log

for profile in default slurm; do
    mkdir -p "$WORK/$profile/hypotheses"
    cp "hypotheses/$HYP.yaml" "$WORK/$profile/hypotheses/"
    start=$SECONDS
    # SIGINT on timeout: the plugin then cancels its SLURM jobs before exiting.
    if ! timeout -s INT 2400 .venv/bin/snakemake -s Snakefile -d "$WORK/$profile" --profile "profiles/$profile" \
            >"$WORK/$profile.log" 2>&1; then
        tail -60 "$WORK/$profile.log"
        echo "example-profiles: $HYP failed under profiles/$profile (log: $WORK/$profile.log)" >&2
        exit 1
    fi
    echo "example-profiles: $HYP under profiles/$profile: $((SECONDS - start)) s"
done

.venv/bin/python - "$WORK" "$HYP" "$CTLD_LOG" <<'PY'
import json, subprocess, sys
from pathlib import Path

work, hyp, ctld_log = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
verdicts = {p: json.loads((work / p / "results" / hyp / "verdict.json").read_text()) for p in ("default", "slurm")}
for p, v in verdicts.items():
    print(f"example-profiles: profiles/{p}: {v['verdict']} {v['predictions']}")
assert verdicts["default"]["verdict"] == verdicts["slurm"]["verdict"], "the verdicts differ"
assert verdicts["default"]["predictions"] == verdicts["slurm"]["predictions"], "prediction outcomes differ"

records = [json.loads(p.read_text()) for p in (work / "slurm/results/runs").glob("*/run.json")]
ids = {r["slurm_job_id"] for r in records}
assert records and None not in ids, f"a training run did not run inside a SLURM job: {ids}"
states = subprocess.run(["squeue", "--states=all", "-h", "-o", "%i %T", "-j", ",".join(sorted(ids))],
                        capture_output=True, text=True, check=True).stdout.split("\n")
states = dict(line.split() for line in states if line.strip())
assert set(states) == ids and set(states.values()) == {"COMPLETED"}, states
submitted = {line.split("JobId=")[1].split()[0] for line in ctld_log.read_text().splitlines()
             if "_slurm_rpc_submit_batch_job" in line and "JobId=" in line}
assert ids <= submitted, f"slurmctld never logged a submission of {ids - submitted}"
logs = sorted(str(p.relative_to(work / "slurm")) for p in (work / "slurm/.snakemake/slurm_logs").rglob("*.log"))
print(f"example-profiles: SLURM jobs {sorted(ids, key=int)} COMPLETED; plugin logs: {logs}")
PY
rm -rf "$WORK"
