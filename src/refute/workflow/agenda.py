"""What the Snakefile needs from the package: every hypothesis's validated plan, the distinct training runs
and probe jobs they need, the files the rules write for them, and job sizes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from refute import io
from refute.training import chunks
from refute.scaling import costs
from refute.workflow import packs
from refute.spec.errors import SpecError
from refute.spec.hashing import run_hash
from refute.spec.exploration import ExplorationPlan, check_ids, load_explorations
from refute.spec.loader import condition_warnings, load_all
from refute.layout import (PACK_SPEC, PROBE_RECORD, PROBE_SPEC, PROBE_VALUES, RUN_NAMES, RUN_OUTPUT_NAMES, RUN_RECORD, RUN_SPEC,
                           SNAPSHOTS, WEIGHTS, Layout)
from refute.spec.plan import Plan, write_plan
from refute.spec.seal import seal

if TYPE_CHECKING:
    from refute.spec.schema import RunSpec

# When hypotheses sharing a run ask for different devices: a GPU request wins (results agree to
# floating-point tolerance), then an explicit cpu (auto accepts the CPU), then auto.
DEVICE_PRIORITY = {"cuda": 2, "cpu": 1, "auto": 0}
# Training jobs whose pessimistic estimate is under this many seconds join the group `tiny_train` (with
# `device: cpu` or `cuda`, `tiny_train_cpu` or `tiny_train_cuda`), so a cluster profile can bundle them
# (`group-components`) and pay submission and start-up once per bundle.
TINY_JOB_S = 60.0
NEVER = "(?!)"  # a regex that matches nothing


@dataclass(frozen=True)
class People:
    """The hypotheses and conditions sharing a run, as a training job's message shows them. A parameter, not
    a resource: Snakemake requires a string resource to be equal across a group's jobs (a tiny-job bundle). Not
    a str on purpose: Snakemake leaves a parameter of a type it cannot represent out of its `params` rerun
    trigger, so a hypothesis that starts sharing a finished run never reruns it."""

    names: str

    def __str__(self) -> str:
        return self.names


@dataclass(frozen=True)
class RunCompute:
    """How one run is trained, merged over every hypothesis that uses it."""

    device: str  # auto | cpu | cuda
    seeds_per_job: int | None  # None: all seeds in one job


class Agenda:
    """Every hypothesis in a folder (its Plan), and the distinct training runs they need (keyed by run hash).

    A run is one job, or, when its seeds are split (`compute.seeds_per_job` in a hypothesis, or
    `seeds_per_job` in the Snakemake config), one job per chunk of seeds and a merge job, or, pending with
    others of the same shapes, one of the runs of a pack's job (`pack`: True plans packs, False none, "written"
    reads those a workflow wrote).
    """

    def __init__(self, hypotheses: list[Plan], results: str | Path, seeds_per_job: int | None = None,
                 tiny_job_s: float = TINY_JOB_S, explorations: list[ExplorationPlan] = (), pack: bool | str = True,
                 mem_limit_mb: int | None = None, cores: int | None = None):
        self.results = Path(results)
        self.layout = Layout(results)
        self.hypotheses = {h.id: h for h in hypotheses}
        # Explorations (refute.spec.exploration) train ordinary runs, shared by hash with the hypotheses.
        self.explorations = {e.id: e for e in explorations}
        studies = [*hypotheses, *explorations]
        self.runs = {run_hash(r): r for h in studies for r in h.conditions.values()}
        # A sequential hypothesis's later rounds: planned (and their specs written) up front, trained only when
        # the look after the round before asks for them (the Snakefile's checkpoint), so not in `records`.
        later = {run_hash(r): r for h in hypotheses for rnd in h.later_rounds for r in rnd.values()}
        self.later = set(later) - set(self.runs)
        self.runs.update(later)
        self.users: dict[str, list[tuple[str, str]]] = {k: [] for k in self.runs}  # run -> (hypothesis, condition)
        requests: dict[str, list] = {k: [] for k in self.runs}
        for h in studies:
            spec = h.hypothesis if isinstance(h, Plan) else h.exploration
            for cond, k in (h.all_runs() if isinstance(h, Plan) else h.runs.items()):
                self.users[k].append((h.id, cond))
                requests[k].append(spec.compute)
        self.compute = {k: _merge_compute(requests[k], seeds_per_job) for k in self.runs}
        self.chunks = {k: self._recorded_split(k) or chunks.split(len(run.seeds), self.compute[k].seeds_per_job)
                       for k, run in self.runs.items()}
        self.tiny_job_s = tiny_job_s
        self._costs: dict[tuple[str, int], costs.JobCost] = {}
        # Pending runs with the same shapes train together, one job per pack (refute.workflow.packs); finished
        # runs belong to no pack, so whichever job made a run, the next workflow sees it as done.
        # A job's own Snakemake (on a cluster node, or a group's) reads the packs its workflow wrote instead: what
        # is pending has moved on since, and it must find the very job it was given; it claims no run exclusively.
        self.packs: dict[str, tuple[str, ...]] = {}
        if pack == "written":
            self.packs = self._written_packs()
        elif pack:
            todo = [h for h in self.runs if h not in self.later and not self.layout.run_file(h, RUN_RECORD).exists()]
            whole = [h for h in todo if not self.is_chunked(h)]
            split_jobs = sum(len(self.chunks[h]) for h in todo if self.is_chunked(h))
            self.packs = packs.plan_packs(self.runs, whole, lambda h: self.compute[h].device, mem_limit_mb, cores,
                                          split_jobs)
        self.pack_of = {} if pack == "written" else {h: p for p, members in self.packs.items() for h in members}
        self.probe_jobs = {h.id: h.probe_jobs for h in studies}
        self.digests = {h.id: h.digest() for h in hypotheses}
        self.exploration_digests = {e.id: e.digest() for e in explorations}
        self.probes = {j.hash: j for jobs in self.probe_jobs.values() for j in jobs}

    def _recorded_split(self, h: str) -> list[tuple[int, int]] | None:
        """A finished run keeps the split it was trained with, so changing seeds_per_job (say, moving
        from a workstation to a cluster) never retrains it."""
        path = self.layout.run_file(h, RUN_RECORD)
        try:
            recorded = json.loads(path.read_text()).get("chunks")
        except (OSError, ValueError, AttributeError):  # absent, or damaged (the jobs report that): plan afresh
            return None
        return [tuple(c["slice"]) for c in recorded] if recorded else [(0, len(self.runs[h].seeds))]

    # --- the files of the DAG -----------------------------------------------------------------------------
    def plan_file(self, hyp_id: str) -> str:
        """The hypothesis's plan file, named by its content: editing the hypothesis names a new file."""
        return str(self.layout.plan_file(self.digests[hyp_id]))

    def exploration_plan_file(self, exploration_id: str) -> str:
        return str(self.layout.plan_file(self.exploration_digests[exploration_id]))

    def exploration_plan_files(self) -> list[str]:
        return [self.exploration_plan_file(i) for i in sorted(self.explorations)]

    def exploration_run_outputs(self, exploration_id: str, name: str) -> list[str]:
        return [str(self.layout.run_file(h, name)) for h in self.explorations[exploration_id].runs.values()]

    def records(self) -> list[str]:
        """The completion record of every training run and probe job."""
        runs = [str(self.layout.run_file(h, RUN_RECORD)) for h in sorted(self.runs) if h not in self.later]
        return runs + [str(self.layout.probe_dir(h) / PROBE_RECORD) for h in sorted(self.probes)]

    def plan_files(self) -> list[str]:
        return [self.plan_file(i) for i in sorted(self.hypotheses)]

    def run_outputs(self, hyp_id: str, name: str, rounds: int = 1) -> list[str]:
        """Output `name` of every run of the hypothesis (of a sequential one: its rounds 1..`rounds`)."""
        hyp = self.hypotheses[hyp_id]
        return [str(self.layout.run_file(h, name)) for k in range(1, rounds + 1) for h in hyp.round_runs(k).values()]

    def round_outputs(self, hyp_id: str, round_: int | str, name: str) -> list[str]:
        """Output `name` of the runs of rounds 1..`round_` of a sequential hypothesis (what its look reads)."""
        return self.run_outputs(hyp_id, name, int(round_))

    def round_count(self, hyp_id: str) -> int:
        return self.hypotheses[hyp_id].round_count()

    def rounds_to_analyse(self, hyp_id: str, look: Callable[[int], str]) -> int:
        """How many rounds a hypothesis's statistics read: 1, or for a sequential one the first round whose look
        (`look(k)`: the path of the look after round k, made by the Snakefile's checkpoint; asking for it makes
        Snakemake train the round) says no further round is needed, or the last."""
        k = 1
        while k < self.round_count(hyp_id) and json.loads(Path(look(k)).read_text()).get("continue"):
            k += 1
        return k

    def chunk_dirs(self, h: str) -> list[str]:
        return [str(self.layout.chunk_dir(h, lo, hi)) for lo, hi in self.chunks[h]]

    def chunk_outputs(self, h: str, name: str) -> list[str]:
        return [f"{d}/{name}" for d in self.chunk_dirs(h)]

    def is_chunked(self, h: str) -> bool:
        return len(self.chunks[h]) > 1

    def run_pattern(self, chunked: bool) -> str:
        """A wildcard constraint matching exactly the runs trained whole by their own job (or exactly the split
        ones), so `train`, `train_chunk` + `merge_seeds` and the packs' jobs never claim the same run's outputs."""
        hashes = sorted(h for h in self.runs if self.is_chunked(h) == chunked and h not in self.pack_of)
        return "|".join(hashes) if hashes else NEVER

    def parent_outputs(self, hyp_id: str, name: str) -> list[str]:
        """The parent's output `name` for a refinement (its report shows the parent), else nothing."""
        parent = self.hypotheses[hyp_id].hypothesis.refines
        return [str(self.layout.hypothesis_file(parent, name))] if parent else []

    def probe_outputs(self, hyp_id: str) -> list[str]:
        return sorted({str(self.layout.probe_dir(j.hash) / PROBE_VALUES) for j in self.probe_jobs[hyp_id]})

    def probe_inputs(self, h: str) -> list[str]:
        """A probe job reads its run's weights (and a reference run's); run.json marks a run complete."""
        job = self.probes[h]
        runs = [job.run] + ([job.reference] if job.reference else [])
        return [str(self.layout.run_file(r, name)) for r in runs for name in (RUN_RECORD, WEIGHTS, SNAPSHOTS)]

    # --- packs: runs trained as one batched model, one job each ---------------------------------------
    def _written_packs(self) -> dict[str, tuple[str, ...]]:
        """The packs whose files a workflow wrote (and whose runs this agenda knows)."""
        out = {}
        for f in sorted(self.layout.packs().glob(f"*/{PACK_SPEC}")):
            try:
                members = tuple(Path(d).name for d in json.loads(f.read_text())["runs"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if members and all(h in self.runs for h in members) and packs.pack_id(members) == f.parent.name:
                out[f.parent.name] = members
        return out

    def pack_outputs(self, pack: str) -> list[str]:
        """Every output of every run of the pack (each in its own run folder)."""
        return [str(self.layout.run_file(h, name)) for h in self.packs[pack] for name in RUN_OUTPUT_NAMES.values()]

    def pack_people(self, pack: str) -> People:
        return People(", ".join(self.names(h) for h in self.packs[pack]))

    def pack_cost(self, pack: str) -> costs.JobCost:
        return costs.pack_cost([self.job_cost(h) for h in self.packs[pack]])

    def pack_threads(self, pack: str) -> int:
        """Threads for the pack's job: as for one run with all its seeds."""
        first = self.runs[self.packs[pack][0]]
        return threads_for(first.model_copy(update={"seeds": list(range(self.pack_cost(pack).seeds))}))

    def pack_resources(self, pack: str, threads: int = 1) -> dict:
        device = self.compute[self.packs[pack][0]].device  # a pack's runs ask for one device
        where = "cuda" if device == "cuda" else "cpu"
        cost = self.pack_cost(pack)
        return {"mem_mb": costs.mem_mb(cost, where), "runtime": costs.runtime_min(cost, where, threads),
                "cpus_per_task": threads, "gpu": 1 if device == "cuda" else 0, "train_device": device}

    def pack_refusal(self, pack: str, limit_mb: int | None) -> str:
        """As memory_refusal, for a pack (packs are planned within the limit; a limit given later may not fit)."""
        need = self.pack_resources(pack)["mem_mb"]
        if not limit_mb or need <= limit_mb:
            return ""
        return (f"the pack of {self.pack_people(pack)} needs {need:,} MB, more than the {limit_mb:,} MB here; "
                "run with --config pack_runs=false to train its runs one job each")

    def pack_group(self, pack: str) -> str | None:
        """The tiny-job group, as train_group."""
        device = self.compute[self.packs[pack][0]].device
        if costs.estimated_seconds(self.pack_cost(pack), "cuda" if device == "cuda" else "cpu") >= self.tiny_job_s:
            return None
        return "tiny_train" if device == "auto" else f"tiny_train_{device}"

    # --- what the jobs read, written when the workflow starts ---------------------------------------------
    # Never at parse time, so `snakemake -n`, `--lint`, `--summary` and `refute plan` write nothing. Each file
    # is content-addressed (named by a hash of what it holds), so it is written once, is not a rule's input
    # (its timestamp never reruns anything) and reaches the jobs as a parameter.
    def write_inputs(self) -> None:
        """Every hypothesis's seal, then every plan file and run or probe spec that is not on disk yet
        (Snakemake's onstart: before any training job starts)."""
        self.seal()
        for hyp_id in self.hypotheses:
            if not Path(self.plan_file(hyp_id)).exists():
                self.write_plan(self.digests[hyp_id], self.plan_file(hyp_id))
        for e in self.explorations.values():
            path = Path(self.exploration_plan_file(e.id))
            if not path.exists():
                io.write_text(path, e.model_dump_json(indent=1) + "\n")
        for h in self.runs:
            if not self.layout.run_file(h, RUN_SPEC).exists():
                self.write_run_spec(h, self.layout.run_file(h, RUN_SPEC))
            # For people: who shares the run now (a train log's first line); not content-addressed, never read
            # by a computation, so rewritten when the users change.
            names = self.layout.run_file(h, RUN_NAMES)
            if not names.exists() or names.read_text() != self.names(h) + "\n":
                io.write_text(names, self.names(h) + "\n")
        for pack, members in self.packs.items():
            if not self.layout.pack_file(pack).exists():
                io.write_text(self.layout.pack_file(pack), json.dumps(
                    {"pack": pack, "runs": [str(self.layout.run_dir(h)) for h in members]}, indent=1) + "\n")
        for h in self.probes:
            if not (self.layout.probe_dir(h) / PROBE_SPEC).exists():
                self.write_probe_spec(h, self.layout.probe_dir(h) / PROBE_SPEC)

    def seal(self) -> None:
        """Seal every hypothesis not sealed yet (refute.spec.seal), noting the runs it reads that exist already
        and those it shares with the hypotheses it refines."""
        finished = lambda h: self.layout.run_file(h, RUN_RECORD).exists()  # noqa: E731
        for hyp in self.hypotheses.values():
            seal(hyp, finished, self.ancestors(hyp.id))

    def ancestors(self, hyp_id: str) -> list[Plan]:
        """The hypotheses `hyp_id` refines, nearest first (as far as the agenda holds them), then the exploration
        the first of the line was drafted from: a run shared with any of them was seen before the seal."""
        out, node = [], self.hypotheses[hyp_id].hypothesis.refines
        while node in self.hypotheses and all(a.id != node for a in out):
            out.append(self.hypotheses[node])
            node = self.hypotheses[node].hypothesis.refines
        root = (out[-1] if out else self.hypotheses[hyp_id]).hypothesis.exploration
        return out + ([self.explorations[root]] if root in self.explorations else [])

    def names(self, h: str) -> str:
        """The hypotheses and conditions that share run `h`, for people: `tiny.default, other.wide`."""
        return ", ".join(f"{i}.{c}" for i, c in self.users[h])

    def people(self, h: str) -> People:
        """`names(h)` as a rule parameter, for job messages (see People)."""
        return People(self.names(h))

    def write_plan(self, digest: str, path: str | Path, log: str | Path | None = None) -> None:
        plan = next(p for p in self.hypotheses.values() if self.digests[p.id] == digest)
        write_plan(plan, path)
        _note(log, f"plan of {plan.id} ({plan.file}, sha256 {plan.file_sha256[:12]})")

    def write_run_spec(self, h: str, path: str | Path, log: str | Path | None = None) -> None:
        io.write_text(path, json.dumps(self.runs[h].model_dump(mode="json"), indent=2, sort_keys=True) + "\n")
        _note(log, "run of " + ", ".join(f"{i}:{c}" for i, c in self.users[h]))

    def write_probe_spec(self, h: str, path: str | Path, log: str | Path | None = None) -> None:
        io.write_text(path, json.dumps(self.probes[h].record, indent=2, sort_keys=True) + "\n")
        job = self.probes[h]
        _note(log, f"probe {job.probe} of run {job.run} (condition {job.condition})")

    def threads(self, h: str) -> int:
        return threads_for(self.runs[h])

    # --- job sizes ---------------------------------------------------------------------------------------
    def seed_range(self, h: str, lo=None, hi=None) -> tuple[int, int]:
        if lo is None:
            return 0, len(self.runs[h].seeds)
        return int(lo), int(hi)

    def job_cost(self, h: str, lo=None, hi=None) -> costs.JobCost:
        a, b = self.seed_range(h, lo, hi)
        if (h, b - a) not in self._costs:
            self._costs[h, b - a] = costs.job_cost(self.runs[h], b - a)
        return self._costs[h, b - a]

    def memory_warnings(self, limit_mb: int | None = None) -> list[str]:
        """A line per run whose training job needs more memory than `limit_mb` (default: this machine's),
        with the seeds per job that would fit: local Snakemake does not enforce mem_mb, so such a job would
        start and be killed (the workflow refuses it at its start instead: see memory_refusal)."""
        limit_mb = limit_mb or machine_memory_mb()
        if not limit_mb:
            return []
        out = []
        for h in sorted(self.runs):
            where = "cuda" if self.compute[h].device == "cuda" else "cpu"
            need = max(costs.mem_mb(self.job_cost(h, lo, hi), where) for lo, hi in self.chunks[h])
            if need > limit_mb:
                out.append("warning: " + self._too_big(h, need, limit_mb))
        return out

    def memory_refusal(self, wildcards, limit_mb: int | None) -> str:
        """Why one training job (a run, or a chunk of its seeds) must not start: it needs more memory than
        `limit_mb` (the workflow's limit); "" when it fits or there is no limit."""
        h = wildcards.run
        where = "cuda" if self.compute[h].device == "cuda" else "cpu"
        need = costs.mem_mb(self.job_cost(h, wildcards.get("lo"), wildcards.get("hi")), where)
        return self._too_big(h, need, limit_mb) if limit_mb and need > limit_mb else ""

    def _too_big(self, h: str, need: int, limit_mb: int) -> str:
        where = "cuda" if self.compute[h].device == "cuda" else "cpu"
        fits = [k for k in range(len(self.runs[h].seeds), 0, -1)
                if costs.mem_mb(self.job_cost(h, 0, k), where) <= limit_mb]
        users = ", ".join(f"{i}:{c}" for i, c in self.users[h])
        advice = (f"train at most {fits[0]} seeds per job (compute: {{seeds_per_job: {fits[0]}}}, or "
                  f"--config seeds_per_job={fits[0]})" if fits else "even one seed does not fit: a smaller model, "
                  "or a machine (or cluster partition) with more memory")
        return f"{users} needs {need:,} MB per training job, more than the {limit_mb:,} MB here; " + advice

    def resources(self, wildcards, threads: int = 1) -> dict:
        """Scheduler resources of one training job (a whole run, or one chunk of its seeds)."""
        h = wildcards.run
        lo, hi = wildcards.get("lo"), wildcards.get("hi")
        device = self.compute[h].device
        cost = self.job_cost(h, lo, hi)
        # auto asks for no GPU: it uses one when the job is given one (e.g. a GPU partition in the profile).
        where = "cuda" if device == "cuda" else "cpu"
        return {
            "mem_mb": costs.mem_mb(cost, where),
            "runtime": costs.runtime_min(cost, where, threads),
            "cpus_per_task": threads,
            "gpu": 1 if device == "cuda" else 0,
            "train_device": device,
        }

    def train_group(self, wildcards) -> str | None:
        cost = self.job_cost(wildcards.run, wildcards.get("lo"), wildcards.get("hi"))
        where = "cuda" if self.compute[wildcards.run].device == "cuda" else "cpu"
        if costs.estimated_seconds(cost, where) >= self.tiny_job_s:
            return None
        # A group's jobs must agree on every text resource, the device request among them: one group per device.
        device = self.compute[wildcards.run].device
        return "tiny_train" if device == "auto" else f"tiny_train_{device}"


def config_flag(config: dict, name: str, default: bool) -> bool:
    """A yes/no setting of the Snakemake config (`--config name=false` arrives as the text "false")."""
    value = config.get(name, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    print(f"refute: config {name} must be true or false, not {value!r}", file=sys.stderr)
    sys.exit(1)


def machine_memory_mb() -> int | None:
    """This machine's physical memory in MB (None where it cannot be read)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)
    except (ValueError, OSError, AttributeError):
        return None


def _note(log: str | Path | None, line: str) -> None:
    if log is not None:
        io.write_text(log, line + "\n")


def _merge_compute(requests: list, cap: int | None) -> RunCompute:
    device = max((c.device for c in requests), key=DEVICE_PRIORITY.__getitem__)
    sizes = [c.seeds_per_job for c in requests if c.seeds_per_job != "all"] + ([cap] if cap else [])
    return RunCompute(device, min(sizes) if sizes else None)


def load_agenda(hypotheses: str | Path = "hypotheses", results: str | Path = "results",
                seeds_per_job: int | None = None, tiny_job_s: float = TINY_JOB_S,
                components: str | Path | None = None, explorations: str | Path | None = None,
                pack: bool | str = True, mem_limit_mb: int | None = None, cores: int | None = None) -> Agenda:
    """Validate every hypothesis file (all errors at once), after the project's components (`components`,
    default: see refute.components.user.folder_for), and every exploration file (`explorations`: a folder,
    None for none), and plan the runs; exit with the errors listed, file:line: field: message, before any
    job starts."""
    if seeds_per_job is not None and (not isinstance(seeds_per_job, int) or seeds_per_job <= 0):
        print(f"refute: config seeds_per_job must be a positive integer, not {seeds_per_job!r}", file=sys.stderr)
        sys.exit(1)
    try:
        plans = load_all(hypotheses, components)  # loads the project's components first
        found = load_explorations(explorations) if explorations is not None else []
        if clash := check_ids(plans, found):
            raise SpecError(clash)
        agenda = Agenda(plans, results, seeds_per_job, tiny_job_s, found, pack, mem_limit_mb, cores)
    except SpecError as err:
        print(f"refute: invalid hypothesis files — nothing was run:\n{err}", file=sys.stderr)
        sys.exit(1)
    for hyp in agenda.hypotheses.values():
        for warning in condition_warnings(hyp):
            print(f"warning: {warning}", file=sys.stderr)
    return agenda


def threads_for(run: RunSpec) -> int:
    """Threads for a run's training job, from the size of its steps (refute.scaling.tuning): one for small
    models, whose ops are too small to split; every core for big matrix products."""
    key = json.dumps(run.model_dump(mode="json"), sort_keys=True)
    if key not in _THREADS:
        from refute.scaling import tuning
        from refute.spec.blueprint import blueprint

        _THREADS[key] = tuning.choose(blueprint(run)).threads
    return _THREADS[key]


_THREADS: dict[str, int] = {}
