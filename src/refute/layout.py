"""Where everything lives under the results folder: the one place that spells a results path.

    <results>/
      runs/<run hash>/                     one training run: all seeds of one condition
        spec.json  metrics.parquet  weights.pt  snapshots.pt  run.json  [checkpoint.pt]
        progress.jsonl                     written while it trains, for people watching (not an output)
        names.txt                          the hypotheses.conditions that share it (written on each start)
        seeds-<lo>-<hi>/                   one chunk of a run whose seeds are split across jobs
      packs/<pack id>/                     runs trained together as one batched model (refute.training.lanes):
        pack.json  [checkpoint.pt]         its runs (each writes its outputs in its own runs/<hash>/)
      probes/<probe hash>/                 one probe on one run: spec.json  values.parquet  probe.json
      plans/<plan hash>.json               a hypothesis's validated plan (refute.spec.plan), by content
      <hypothesis id>/                     observations/probes/reduced tables, predictions.json, verdict.json,
                                           preregistration.json, report.md, report.html, figures/
      explorations/<exploration id>/       observations/reduced tables, events.json, report.md, report.html, figures/
      index.md  index.html                 the agenda
      logs/<rule>/...  benchmarks/<rule>/...

Every method returns the path for a concrete name; given Snakemake wildcards instead (`"{run}"`), the same
methods spell the rules' paths.
"""

from __future__ import annotations

from pathlib import Path

# Files of a training run, in the order a train job writes them (run.json last: it marks completion).
RUN_SPEC, METRICS, WEIGHTS, SNAPSHOTS, RUN_RECORD, CHECKPOINT = (
    "spec.json", "metrics.parquet", "weights.pt", "snapshots.pt", "run.json", "checkpoint.pt")
PACK_SPEC = "pack.json"  # a pack's runs: {"pack": id, "runs": [run folder, ...]} (refute.workflow.agenda)
RUN_NAMES = "names.txt"  # `hyp.cond, ...` sharing the run, for people (refute.workflow.agenda); never read by a job's numbers
PROGRESS = "progress.jsonl"  # appended while a run trains (refute.training.progress); never checksummed
RUN_OUTPUTS = (METRICS, WEIGHTS, SNAPSHOTS, RUN_RECORD)
RUN_OUTPUT_NAMES = {"metrics": METRICS, "weights": WEIGHTS, "snapshots": SNAPSHOTS, "meta": RUN_RECORD}  # as rules name them
# Files of a probe job (probe.json last).
PROBE_SPEC, PROBE_VALUES, PROBE_RECORD = "spec.json", "values.parquet", "probe.json"
# Files of a hypothesis's analysis (verdict.json last: it holds the others' checksums).
OBSERVATIONS, PROBE_TABLE, REDUCED, PREDICTIONS, VERDICT = (
    "observations.parquet", "probes.parquet", "reduced.parquet", "predictions.json", "verdict.json")
PREREGISTRATION, REPORT_MD, REPORT_HTML, FIGURES = "preregistration.json", "report.md", "report.html", "figures"
INDEX_MD, INDEX_HTML = "index.md", "index.html"
# An exploration's list of candidate and found events (written last by its observation stage).
EVENTS = "events.json"


def chunk_name(lo: int | str, hi: int | str) -> str:
    """A chunk of a run's seeds, by positions in the run's seed list (fixed by the run hash and the split)."""
    return f"seeds-{lo}-{hi}"


class Layout:
    """Paths under one results folder."""

    def __init__(self, results: str | Path = "results"):
        self.results = Path(results)

    # --- training runs --------------------------------------------------------------------------------
    def run_dir(self, run_hash: str) -> Path:
        return self.results / "runs" / run_hash

    def run_file(self, run_hash: str, name: str) -> Path:
        return self.run_dir(run_hash) / name

    def chunk_dir(self, run_hash: str, lo: int | str, hi: int | str) -> Path:
        return self.run_dir(run_hash) / chunk_name(lo, hi)

    # --- packs: runs trained as one batched model ------------------------------------------------------
    def packs(self) -> Path:
        return self.results / "packs"

    def pack_dir(self, pack: str) -> Path:
        return self.packs() / pack

    def pack_file(self, pack: str) -> Path:
        return self.pack_dir(pack) / PACK_SPEC

    # --- probe jobs -----------------------------------------------------------------------------------
    def probe_dir(self, probe: str) -> Path:
        return self.results / "probes" / probe

    # --- hypotheses -----------------------------------------------------------------------------------
    def plan_file(self, digest: str) -> Path:
        return self.results / "plans" / f"{digest}.json"

    def hypothesis_dir(self, hyp_id: str) -> Path:
        return self.results / hyp_id

    def hypothesis_file(self, hyp_id: str, name: str) -> Path:
        return self.hypothesis_dir(hyp_id) / name

    def round_file(self, hyp_id: str, round_: int | str) -> Path:
        """A sequential hypothesis's look after one round: whether another is needed (refute.stats.sequential)."""
        return self.hypothesis_dir(hyp_id) / "rounds" / f"round-{round_}.json"

    # --- explorations -------------------------------------------------------------------------------
    def exploration_dir(self, exploration_id: str) -> Path:
        return self.results / "explorations" / exploration_id

    def exploration_file(self, exploration_id: str, name: str) -> Path:
        return self.exploration_dir(exploration_id) / name

    def index(self, name: str = INDEX_MD) -> Path:
        return self.results / name

    # --- job bookkeeping ------------------------------------------------------------------------------
    def log(self, rule: str, name: str) -> Path:
        return self.results / "logs" / rule / f"{name}.log"

    def benchmark(self, rule: str, name: str) -> Path:
        return self.results / "benchmarks" / rule / f"{name}.tsv"

