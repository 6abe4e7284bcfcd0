"""What a run of the workflow would do, before anything runs: per hypothesis and exploration, and condition,
its run, seeds, jobs, size, memory, time limit and estimated time; then the totals for what is not done yet
(an exploration's jobs after training: observe and observation_report).

FLOPs and memory come from refute.scaling.costs; time on this machine from refute.workflow.calibration's
calibration (measured by `refute plan`; a dry run uses a cached one, or gives no time). The wall time is
Snakemake's start, then its local scheduling simulated (`wall_seconds`): whenever cores are free the longest ready
job starts, holding its threads' cores; a training job takes the calibration's time for its JobCost, every
other job an analysis job's start-up plus a fixed amount (the constants below, measured on the 2-core development
machine: benchmarks/plan_estimate.md); each job also pays Snakemake's own per-job cost.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path

from refute.layout import EVENTS, PROBE_RECORD, RUN_RECORD, VERDICT, REPORT_MD
from refute.scaling import costs, cpus
from refute.workflow.calibration import Cached, Calibration, Speed, cached_calibration, calibration
from refute.workflow.agenda import Agenda

# Seconds of a job beyond its process's start-up (training jobs: from the calibration and the JobCost).
# A probe's own computation depends on the probe and is not estimated.
WORK_S = {"merge_seeds": 0.5, "probe": 0.5, "stats": 0.3, "report": 0.6, "observe": 1.0,
          "observation_report": 1.0}
# Snakemake's own cost per job (spawning its shell, checking outputs, writing its benchmark file), and after the
# last one (the index's refresh).
SNAKEMAKE_JOB_S = 0.2
TORCH_JOBS = ("train", "train_pack", "train_chunk", "merge_seeds", "probe", "observe")


@dataclass(frozen=True)
class Job:
    kind: str  # train | train_pack | train_chunk | merge_seeds | probe | stats | report | observe | observation_report
    target: str  # run hash (and chunk) or hypothesis id
    seconds: float
    cost: costs.JobCost | None = None
    threads: int = 1
    after: tuple[str, ...] = ()  # keys of the pending jobs it waits for

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.target}"


def _done(path: Path) -> bool:
    return path.exists()


def _study(plan: Agenda, i: str):
    """The hypothesis or exploration with id `i` (ids are unique across both)."""
    return plan.hypotheses[i] if i in plan.hypotheses else plan.explorations[i]


def other_seconds(kind: str, cal: Calibration) -> float:
    """A job other than training: its start-up (torch or not) and its own work."""
    return (cal.startup_s if kind in TORCH_JOBS else cal.light_startup_s) + WORK_S[kind]


def pending_jobs(plan: Agenda, ids: list[str], cal: Calibration) -> list[Job]:
    """The jobs a run of `ids` (hypotheses and explorations) needs, judged by which outputs exist
    (`snakemake -n` also sees edits), each with what it waits for."""
    jobs: list[Job] = []
    runs = sorted({h for i in ids for h in _study(plan, i).runs.values()})
    finished: dict[str, str] = {}  # pending run -> the key of the job that finishes it
    for h in runs:
        if _done(plan.layout.run_file(h, RUN_RECORD)):
            continue
        if h in plan.pack_of:  # one job for the whole pack (its runs may belong to other hypotheses too)
            pack = plan.pack_of[h]
            if not any(j.kind == "train_pack" and j.target == pack for j in jobs):
                c, threads = plan.pack_cost(pack), plan.pack_threads(pack)
                jobs.append(Job("train_pack", pack, cal.job_seconds(c, threads), c, threads))
            finished[h] = f"train_pack:{pack}"
            continue
        threads = plan.threads(h)
        if plan.is_chunked(h):
            parts = []
            for lo, hi in plan.chunks[h]:
                if not _done(plan.layout.chunk_dir(h, lo, hi) / RUN_RECORD):
                    c = plan.job_cost(h, lo, hi)
                    jobs.append(Job("train_chunk", f"{h}/seeds-{lo}-{hi}", cal.job_seconds(c, threads), c, threads))
                    parts.append(jobs[-1].key)
            jobs.append(Job("merge_seeds", h, other_seconds("merge_seeds", cal), after=tuple(parts)))
        else:
            c = plan.job_cost(h)
            jobs.append(Job("train", h, cal.job_seconds(c, threads), c, threads))
        finished[h] = jobs[-1].key
    probes: dict[str, str] = {}  # pending probe job -> its key
    for i in ids:
        for job in plan.probe_jobs[i]:
            if job.hash in probes:
                continue
            needs = [job.run] + ([job.reference] if job.reference else [])
            if any(r in finished for r in needs) or not _done(plan.layout.probe_dir(job.hash) / PROBE_RECORD):
                # Timed as start-up and WORK_S["probe"]: what a probe costs depends on the probe.
                jobs.append(Job("probe", job.hash, other_seconds("probe", cal),
                                after=tuple(finished[r] for r in needs if r in finished)))
                probes[job.hash] = jobs[-1].key
    for i in ids:
        inputs = tuple([finished[h] for h in sorted(set(_study(plan, i).runs.values())) if h in finished] +
                       [probes[j.hash] for j in plan.probe_jobs[i] if j.hash in probes])
        if i in plan.explorations:
            first, second, waits = "observe", "observation_report", ()
            outputs = plan.layout.exploration_file(i, EVENTS), plan.layout.exploration_file(i, REPORT_MD)
        else:  # a refinement's report shows its parent's
            parent = plan.hypotheses[i].hypothesis.refines
            first, second, waits = "stats", "report", (f"report:{parent}",) if parent else ()
            outputs = plan.layout.hypothesis_file(i, VERDICT), plan.layout.hypothesis_file(i, REPORT_MD)
        if inputs or not _done(outputs[0]):
            jobs.append(Job(first, i, other_seconds(first, cal), after=inputs))
        if inputs or not _done(outputs[1]):
            jobs.append(Job(second, i, other_seconds(second, cal), after=(f"{first}:{i}", *waits)))
    # Waiting only on pending jobs (what is done already is no wait).
    known = {j.key for j in jobs}
    return [Job(j.kind, j.target, j.seconds, j.cost, j.threads, tuple(k for k in j.after if k in known))
            for j in jobs]


def makespan(seconds: list[float], slots: int) -> float:
    """Longest-first list scheduling of independent jobs on `slots` parallel slots."""
    heap = [0.0] * max(1, slots)
    for s in sorted(seconds, reverse=True):
        heapq.heappush(heap, heapq.heappop(heap) + s)
    return max(heap)


def wall_seconds(jobs: list[Job], cores: int) -> float:
    """Snakemake's local scheduling of `jobs` on `cores` cores, simulated: whenever cores are free, the longest
    job whose inputs are done starts, holding min(threads, cores) cores until it ends."""
    pending = sorted(jobs, key=lambda j: -j.seconds)
    done: set[str] = set()
    running: list[tuple[float, int, str, int]] = []  # (end, tie-breaker, key, cores held)
    free, now = max(1, cores), 0.0
    while pending or running:
        for j in [j for j in pending if all(k in done for k in j.after)]:
            need = min(max(1, j.threads), max(1, cores))
            if need <= free:
                free -= need
                heapq.heappush(running, (now + j.seconds, len(running) + len(done), j.key, need))
                pending.remove(j)
        if not running:  # a job waiting on one that is not in the list: nothing more can start
            break
        now, _, key, need = heapq.heappop(running)
        done.add(key)
        free += need
    return now


def estimate_seconds(jobs: list[Job], cores: int, cal: Calibration) -> float:
    """The whole run's wall time: Snakemake's start, the jobs (each with Snakemake's per-job cost), the end."""
    if not jobs:
        return 0.0
    paid = [Job(j.kind, j.target, j.seconds + SNAKEMAKE_JOB_S, j.cost, j.threads, j.after) for j in jobs]
    return cal.snakemake_s + wall_seconds(paid, cores) + cal.light_startup_s


# A calibration for a plan without times (the job list and sizes only).
UNTIMED = Calibration((Speed(1, 1.0, 0.0, 0.0),), 0.0, 0.0, 0.0, "", "", 1, "", "", "", 0.0, 0.0)

# --- text -------------------------------------------------------------------------------------------------

def duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def count(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.0f}"


def _shared_with(plan: Agenda, h: str, hyp_id: str, cond: str) -> str:
    others = [f"{i}:{c}" for i, c in plan.users[h] if (i, c) != (hyp_id, cond)]
    return f" (shared with {', '.join(others)})" if others else ""


def plan_text(plan: Agenda, ids: list[str] | None = None, cores: int | None = None, calibrate_here: bool = True) -> str:
    """The plan of `ids` (hypotheses and explorations; default: every one) as text: per condition its run,
    seeds, jobs, size and estimated time; then the totals for what is not done yet. With `calibrate_here` off
    (a dry run), times come from a cached calibration only, and are left out when there is none."""
    ids = [*sorted(plan.hypotheses), *sorted(plan.explorations)] if ids is None else ids
    unknown = [i for i in ids if i not in plan.hypotheses and i not in plan.explorations]
    if unknown:
        known = ", ".join([*sorted(plan.hypotheses), *sorted(plan.explorations)])
        raise KeyError(f"no hypothesis or exploration with id {', '.join(map(repr, unknown))}; known: {known}")
    cores = cores or cpus.allotted()  # the CPUs this process was given, as the jobs count them
    cached: Cached = calibration() if calibrate_here else cached_calibration()
    timed = cached.calibration is not None
    cal = cached.calibration or UNTIMED
    jobs = pending_jobs(plan, ids, cal)
    pending = {h for i in ids for h in _study(plan, i).runs.values() if not _done(plan.layout.run_file(h, RUN_RECORD))}

    lines = []
    for i in ids:
        hyp = _study(plan, i)
        if i in plan.explorations:
            spec = hyp.exploration
            lines.append(f"Plan for exploration {i} ({hyp.file}): {spec.title}")
        else:
            spec = hyp.hypothesis
            lines.append(f"Plan for {i} ({hyp.path}): {spec.title}")
        # As split (a finished run keeps the split it was trained with).
        per_job = sorted({max(hi - lo for lo, hi in plan.chunks[h]) if plan.is_chunked(h) else 0
                          for h in hyp.runs.values()})
        per_job_text = ", ".join(str(n) if n else "all" for n in per_job)
        lines.append(f"  device: {spec.compute.device}   seeds per job: {per_job_text}")
        header = ("condition", "run", "seeds", "jobs", "params/seed", "FLOPs", "memory", "limit", "est. time", "status")
        rows = [header]
        for cond, h in hyp.runs.items():
            cost = plan.job_cost(h)
            n_jobs = len(plan.chunks[h]) + plan.is_chunked(h)
            per_job = [plan.job_cost(h, lo, hi) for lo, hi in plan.chunks[h]]
            device = "cuda" if plan.compute[h].device == "cuda" else "cpu"
            status = "to train" if h in pending else "done"
            if h in pending and h in plan.pack_of:
                status += f" in pack {plan.pack_of[h]} ({len(plan.packs[plan.pack_of[h]])} runs, one job)"
            rows.append((cond, h, str(cost.seeds), str(n_jobs), count(cost.params_per_seed), f"{cost.flops:.2e}",
                         f"{max(costs.mem_mb(c, device) for c in per_job)} MB",
                         f"{max(costs.runtime_min(c, device) for c in per_job)} min",
                         duration(sum(cal.job_seconds(c, plan.threads(h)) for c in per_job)) if timed else "—",
                         status + _shared_with(plan, h, i, cond)))
        widths = [max(len(r[k]) for r in rows) for k in range(len(header) - 1)]
        for r in rows:
            lines.append("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1])
        if getattr(hyp, "later_rounds", None):  # sequential rounds: trained only while a prediction is undecided
            seq = hyp.hypothesis.sequential
            lines.append(f"  sequential: round 1 above, then up to {len(hyp.later_rounds)} more round(s) of "
                         f"{seq.seeds_per_round} fresh seeds (at most {seq.max_seeds} per condition), each trained "
                         "only if the look after the round before leaves a prediction undecided; not counted below")
        lines.append("")

    lines += plan.memory_warnings()
    kinds = {}
    for j in jobs:
        kinds[j.kind] = kinds.get(j.kind, 0) + 1
    trained = [j for j in jobs if j.cost is not None]
    n_models = sum(j.cost.models for j in trained)
    n_runs = len(pending)
    flops = sum(j.cost.flops for j in trained)
    threads = sorted({j.threads for j in trained}) or [1]
    job_list = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "none"
    lines.append(f"Jobs to run: {len(jobs)} ({job_list})")
    lines.append(f"Models to train: {n_models} ({n_runs} run(s); each seed of a condition is one model)")
    lines.append(f"Compute: {flops:.2e} FLOPs")
    untimed = " (a probe's own computation not counted)" if kinds.get("probe") else ""
    if not timed:
        lines.append(f"Wall time: not estimated ({cached.note or 'this machine is not calibrated yet'}; `refute plan` "
                     "measures it with a few seconds of training)")
        return "\n".join(lines)
    lines.append(f"Wall time on this machine ({cal.host}, {cores} core(s), {'-'.join(map(str, threads))} thread(s) "
                 f"per training job), if it is otherwise idle: ≈ {duration(estimate_seconds(jobs, cores, cal))}"
                 f"{untimed}")
    lines.append(f"  {cal.describe()}")
    lines.append(f"  ({cached.note + '; ' if cached.note else ''}delete {cached.path} to measure again)")
    return "\n".join(lines)
