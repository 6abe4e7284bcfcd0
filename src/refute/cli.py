"""The `refute` command: the form → test → refine loop from a terminal.

    refute new <id>        scaffold hypotheses/<id>.yaml from a commented template
    refute check           validate every hypothesis file (file:line: field: message; exit 1 on errors)
    refute run [ids]       run the DAG (all, or these hypotheses) with Snakemake and the project profile;
                           arguments after `--` go to snakemake
    refute status          not run / stale / running / done, with verdicts, as a lineage tree
    refute plan [ids]      the jobs, models, FLOPs and estimated wall time here, before anything runs
    refute refine <id>     draft the next experiment into hypotheses/ (runs nothing)
    refute discover <id>   draft a hypothesis per event an exploration found, on fresh seeds (runs nothing)
    refute report [id]     print (or --open) a hypothesis's report.html, or the agenda index
    refute describe [KIND [NAME]]  every task, model, optimizer, observable, probe, reduction and prediction
                           kind (built-in and the project's own), with each parameter's type, default and range

Each subcommand is one small function registered with `@command(name, help, *arguments)`; adding a
subcommand is adding one such function. Plain `snakemake` keeps working without any of this.
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

from refute.spec.errors import SpecError


@dataclass
class Command:
    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: list[tuple[tuple, dict]] = field(default_factory=list)


COMMANDS: dict[str, Command] = {}


def arg(*flags: str, **kwargs) -> tuple[tuple, dict]:
    """One argparse argument, as `parser.add_argument(*flags, **kwargs)` would take it."""
    return flags, kwargs


def command(name: str, help: str, *arguments: tuple[tuple, dict]):
    """Register `func(args) -> exit code` as `refute <name>`."""

    def deco(func: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = Command(name, help, func, list(arguments))
        return func

    return deco


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, exit code 1."""


# Folders every command agrees on; the same defaults as the Snakefile's config.
HYPOTHESES = arg("--hypotheses", default="hypotheses", help="folder of hypothesis files (default: hypotheses)")
RESULTS = arg("--results", default="results", help="results folder (default: results)")
SNAKEFILE = arg("--snakefile", default="Snakefile", help="the workflow (default: ./Snakefile)")


def _config(a: argparse.Namespace) -> list[str]:
    """Snakemake --config entries for folders that differ from the Snakefile's defaults."""
    out = []
    if a.hypotheses != "hypotheses":
        out.append(f"hypotheses={a.hypotheses}")
    if a.results != "results":
        out.append(f"results={a.results}")
    if getattr(a, "explorations", "explorations") != "explorations":
        out.append(f"explorations={a.explorations}")
    return out


def _snakefile(a: argparse.Namespace) -> Path:
    path = Path(a.snakefile)
    if not path.is_file():
        raise CommandError(f"no Snakefile at {path}: run refute from the project root or pass --snakefile")
    return path.resolve()


# ---------------------------------------------------------------------------------------------- new

@command("new", "scaffold a hypothesis file from a commented template",
         arg("id", help="slug naming the hypothesis (lower-case letters, digits, '-' and '_')"),
         arg("--title", default=None, help="one line naming the hypothesis"),
         HYPOTHESES)
def new(a: argparse.Namespace) -> int:
    import re

    from refute.spec.loader import load_hypothesis
    from refute.registry import SLUG

    if not re.match(SLUG, a.id):
        raise CommandError(f"id {a.id!r} must be a slug matching {SLUG}")
    folder = Path(a.hypotheses)
    path = folder / f"{a.id}.yaml"
    template = resources.files("refute").joinpath("templates/hypothesis.yaml").read_text(encoding="utf-8")
    text = string.Template(template).substitute(id=a.id, title=json.dumps(a.title or f"TODO: name {a.id}"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8") as f:  # never replaces a file
            f.write(text)
    except FileExistsError:
        raise CommandError(f"{path} already exists") from None
    load_hypothesis(path)  # the template must always be valid
    print(path)
    print(f"Edit the claim, the training and the predictions, then: refute check && refute run {a.id}")
    return 0


# -------------------------------------------------------------------------------------------- check

EXPLORATIONS = arg("--explorations", default="explorations",
                   help="folder of exploration files (default: explorations)")


@command("check", "validate every hypothesis file; exit 1 listing file:line: field: message", HYPOTHESES,
         EXPLORATIONS)
def check(a: argparse.Namespace) -> int:
    from refute.spec.errors import SpecError as Invalid
    from refute.spec.exploration import check_ids, load_explorations
    from refute.spec.loader import condition_warnings, load_all

    hyps = load_all(a.hypotheses)  # a SpecError is printed by main
    for hyp in hyps:
        for warning in condition_warnings(hyp):
            print(f"warning: {warning}", file=sys.stderr)
    runs = {r for h in hyps for r in h.runs.values()}
    print(f"{len(hyps)} hypotheses valid; {len(runs)} distinct training runs.")
    explorations = load_explorations(a.explorations)
    if clash := check_ids(hyps, explorations):
        raise Invalid(clash)
    if explorations:
        own = {r for e in explorations for r in e.runs.values()} - runs
        print(f"{len(explorations)} explorations valid; {len(own)} training runs of their own.")
    return 0


# ---------------------------------------------------------------------------------------------- run

def _fail_on(text: str) -> set[str]:
    from refute.loop.outcomes import parse_fail_on

    try:
        return parse_fail_on(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


FAILED_VERDICT = 3  # exit code: a hypothesis ended with a verdict listed in --fail-on


@command("run", "run hypotheses through the DAG with Snakemake (all of them, and the index, by default)",
         arg("ids", nargs="*", help="hypotheses or explorations to run (default: all, and the agenda index)"),
         arg("-c", "--cores", default=None, help="cores for Snakemake (default: the profile's, all)"),
         arg("-n", "--dry-run", action="store_true", help="list the jobs, run nothing"),
         arg("--profile", default="default",
             help="a profile folder, or the name of one under the workflow's profiles/, applied as "
                  "`snakemake --profile` applies it (default: default, the workflow profile alone)"),
         arg("--fail-on", type=_fail_on, default=set(), metavar="VERDICTS",
             help="exit with code 3 when a hypothesis ends with one of these comma-separated verdicts "
                  "(invalid, refuted, inconclusive, supported, missing: no verdict), e.g. invalid,refuted"),
         arg("--progress", choices=["auto", "bars", "lines", "off"], default="auto",
             help="live progress of training jobs: bars in an interactive terminal, else plain lines (default: auto)"),
         arg("--progress-every", type=float, default=10.0, metavar="SECONDS",
             help="how often plain progress lines are printed (default: 10)"),
         HYPOTHESES, EXPLORATIONS, RESULTS, SNAKEFILE)
def run(a: argparse.Namespace) -> int:
    from refute.loop.launch import Invocation, LaunchError, run_snakemake, snakemake_argv
    from refute.loop.live import LiveView, choose, run_labels
    from refute.loop.outcomes import failing, format_outcomes, outcomes
    from refute.spec.loader import load_all

    from refute.layout import REPORT_MD, Layout
    from refute.spec.exploration import load_explorations

    plans = load_all(a.hypotheses)  # bad files: the same errors as `check`, before any job
    hyps = {h.id for h in plans}
    explorations = {e.id for e in load_explorations(a.explorations)}
    unknown = [i for i in a.ids if i not in hyps and i not in explorations]
    if unknown:
        known = ", ".join([*sorted(hyps), *sorted(explorations)]) or "none"
        raise CommandError(f"unknown hypothesis {', '.join(unknown)}; known: {known}")
    # an exploration's target is its observation report
    inv = Invocation(_snakefile(a), a.profile, a.cores, _config(a), a.dry_run, a.passthrough,
                     [str(Layout(a.results).exploration_file(i, REPORT_MD)) if i in explorations
                      else str(Path(a.results) / i / "report.md") for i in a.ids])
    try:
        argv = snakemake_argv(inv)
    except LaunchError as err:
        raise CommandError(str(err)) from None
    print("refute: snakemake " + " ".join(argv), file=sys.stderr, flush=True)
    # Snakemake's own log says which jobs start and "N of M steps (x%) done"; the live view, how far each
    # training job is.
    mode = "off" if a.dry_run else choose(a.progress)
    with LiveView(a.results, run_labels(plans), mode, a.progress_every) as live:
        done = run_snakemake(argv, pipe=live.pipe)
    if done.interrupted is not None:
        print("refute: interrupted; Snakemake stopped its jobs and released its lock (`refute run` again resumes)",
              file=sys.stderr, flush=True)
        return 128 + done.interrupted
    if a.dry_run:
        return done.code
    found = outcomes(a.results, [i for i in a.ids if i in hyps] if a.ids else sorted(hyps))
    print(format_outcomes(found), flush=True)
    for i in (x for x in a.ids if x in explorations):
        report = Layout(a.results).exploration_file(i, REPORT_MD)
        print(f"{i}  observed: {report}" if report.exists() else f"{i}  not observed", flush=True)
    bad = failing(found, a.fail_on)
    if done.code == 0 and bad:
        print(f"refute: --fail-on {','.join(sorted(a.fail_on))}: "
              + ", ".join(f"{o.id} {o.key}" for o in bad), file=sys.stderr)
        return FAILED_VERDICT
    return done.code


# ------------------------------------------------------------------------------------------- status

@command("status", "which hypotheses are not run, stale, running or done, and their verdicts",
         arg("--json", action="store_true", help="one JSON object per hypothesis, for scripts"),
         HYPOTHESES, RESULTS, SNAKEFILE)
def status(a: argparse.Namespace) -> int:
    from refute.loop.status import format_rows, rows_json
    from refute.loop.status import status as compute

    try:
        rows = compute(a.results, _snakefile(a), ".", _config(a))
    except RuntimeError as err:
        raise CommandError(str(err)) from None
    print(rows_json(rows) if a.json else format_rows(rows))
    return 0


# --------------------------------------------------------------------------------------------- plan

@command("plan", "the jobs, models, FLOPs and estimated wall time on this machine, before anything runs",
         arg("ids", nargs="*", metavar="id", help="hypothesis or exploration ids (default: every one)"),
         HYPOTHESES, EXPLORATIONS, RESULTS,
         arg("--cores", type=int, default=None, help="cores to plan for (default: this machine's)"),
         arg("--seeds-per-job", type=int, default=None,
             help="cap on seeds per training job, as `snakemake --config seeds_per_job=N` would set it"),
         arg("--no-pack", action="store_true",
             help="one training job per run, as `snakemake --config pack_runs=false` would run them"))
def plan(a: argparse.Namespace) -> int:
    from refute.scaling import cpus
    from refute.workflow.agenda import load_agenda, machine_memory_mb
    from refute.workflow.preview import plan_text

    agenda = load_agenda(a.hypotheses, a.results, seeds_per_job=a.seeds_per_job, explorations=a.explorations,
                         pack=not a.no_pack, mem_limit_mb=machine_memory_mb(), cores=a.cores or cpus.allotted())
    try:
        print(plan_text(agenda, a.ids or None, cores=a.cores))
    except KeyError as err:
        raise CommandError(err.args[0]) from None
    return 0


# ------------------------------------------------------------------------------------------- refine

def _values(text: str) -> list:
    import yaml

    values = yaml.safe_load(f"[{text}]")
    return [float(v) if isinstance(v, str) and _is_number(v) else v for v in values]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@command("refine", "draft the next experiment after a verdict into hypotheses/ (runs nothing)",
         arg("id", help="the hypothesis to refine (it must have a verdict)"),
         arg("--axis", default=None, help="the dotted field to sweep (default: chosen, see refute.loop.refine)"),
         arg("--values", type=_values, default=None, help="comma-separated values for the sweep, e.g. 16,32,64"),
         arg("--sequential", action="store_true", help="for an INCONCLUSIVE verdict: gather the more seeds in "
             "sequential rounds, stopping as soon as every prediction is decided (anytime-valid)"),
         HYPOTHESES, RESULTS)
def refine(a: argparse.Namespace) -> int:
    from refute.loop.refine import RefineError, write_draft

    try:
        path, d = write_draft(a.id, a.hypotheses, a.results, a.axis, a.values, a.sequential)
    except RefineError as err:
        raise CommandError(str(err)) from None
    print(path)
    print(f"Next experiment: {d.kind}.")
    for line in d.why:
        print(f"  {line}")
    print(f"Nothing has run. Edit it, state your priors, then: refute check && refute run {d.id}")
    return 0


# ----------------------------------------------------------------------------------------- discover

@command("discover", "draft a hypothesis per event an exploration found into hypotheses/, on fresh seeds "
         "(runs nothing)",
         arg("id", help="the exploration (explorations/<id>.yaml), observed by `refute run`"),
         HYPOTHESES, RESULTS)
def discover(a: argparse.Namespace) -> int:
    from refute.loop.discover import DiscoverError, no_drafts, write_drafts

    try:
        written = write_drafts(a.id, a.hypotheses, a.results)
    except DiscoverError as err:
        raise CommandError(str(err)) from None
    if not written:
        print(no_drafts(a.id, a.results))
    for path, d in written:
        print(path)
        print(f"  event {d.event.id}: {d.event.summary}")
        for line in d.why:
            print(f"  {line}")
    if written:
        print("Nothing has run. Edit them, state your priors, then: refute check && refute run <id>")
    return 0


# -------------------------------------------------------------------------------------------- watch

@command("watch", "how far each run of a hypothesis is (step, loss, ETA, latest metrics); --png draws its curves",
         arg("id", help="the hypothesis"),
         arg("--png", default=None, metavar="FILE", help="also draw every metric's curves so far into FILE"),
         arg("--every", type=float, default=None, metavar="SECONDS",
             help="print again every SECONDS until every run is done (default: once)"),
         HYPOTHESES, RESULTS)
def watch(a: argparse.Namespace) -> int:
    import time

    from refute.loop.watch import DONE, plot, states, table
    from refute.spec.loader import load_hypothesis

    _known(a.id, a.hypotheses, a.results)
    path = Path(a.hypotheses) / f"{a.id}.yaml"
    if not path.exists():
        raise CommandError(f"no {path}: `refute watch` follows the runs of a hypothesis file")
    plan = load_hypothesis(path)
    while True:
        found = states(plan, a.results)
        print(table(found), flush=True)
        if a.png:
            print(plot(plan, found, a.png))
        if a.every is None or all(s.state == DONE for s in found):
            return 0
        time.sleep(a.every)
        print()


# ------------------------------------------------------------------------------------------ collect

@command("collect", "write every analysed hypothesis's metrics and predictions as two tidy tables",
         arg("--format", choices=["parquet", "csv"], default="parquet", help="file format (default: parquet)"),
         HYPOTHESES, RESULTS)
def collect(a: argparse.Namespace) -> int:
    from refute.loop.collect import write

    for path in write(a.results, a.format):
        print(path)
    return 0


# ------------------------------------------------------------------------------------------- export

@command("export", "export every analysed hypothesis to MLflow and/or TensorBoard: one tracked run per "
         "hypothesis, condition and seed (needs `pip install 'refute[export]'`)",
         arg("--mlflow", default=None, metavar="STORE",
             help="an MLflow tracking store: a folder (a local file store, offline) or a tracking URI"),
         arg("--tensorboard", default=None, metavar="DIR", help="a TensorBoard log folder (event files)"),
         HYPOTHESES, RESULTS)
def export(a: argparse.Namespace) -> int:
    from refute.loop.collect import collect
    from refute.loop.export import ExportError, to_mlflow, to_tensorboard

    if not (a.mlflow or a.tensorboard):
        raise CommandError("say where to export: --mlflow STORE and/or --tensorboard DIR")
    tables = collect(a.results)
    if tables.metrics.empty:
        raise CommandError(f"nothing to export: no hypothesis in {a.results} has a verdict yet (refute run)")
    try:
        for flag, target, write in (("--mlflow", a.mlflow, lambda: to_mlflow(a.results, a.mlflow, tables)),
                                    ("--tensorboard", a.tensorboard,
                                     lambda: to_tensorboard(a.tensorboard, a.results, tables))):
            if target:
                done = write()
                print(f"{flag} {target}: {done.written} runs written ({done.replaced} replacing an older "
                      f"analysis), {done.unchanged} unchanged")
    except ExportError as err:
        raise CommandError(str(err)) from None
    return 0


# ------------------------------------------------------------------------------------------- report

@command("report", "print the path of a hypothesis's report (or the agenda index), or open it",
         arg("id", nargs="?", help="the hypothesis (default: the agenda index)"),
         arg("--md", action="store_true", help="the markdown report instead of the HTML one"),
         arg("--open", action="store_true", help="open it in the default browser"),
         HYPOTHESES, RESULTS)
def report(a: argparse.Namespace) -> int:
    suffix = "md" if a.md else "html"
    if a.id:
        _known(a.id, a.hypotheses, a.results)
    path = Path(a.results) / (f"{a.id}/report.{suffix}" if a.id else f"index.{suffix}")
    if not path.exists():
        what = f"refute run {a.id}" if a.id else "refute run"
        raise CommandError(f"{path} does not exist yet: {what} makes it")
    print(path)
    if a.open:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    return 0


# ----------------------------------------------------------------------------------------- describe

@command("describe", "the vocabulary: every component with each parameter's type, default, range and help",
         arg("kind", nargs="?", help="task, model, optimizer, observable, probe, reduction, prediction, or "
             "hypothesis (the file's own fields); default: every kind's names"),
         arg("name", nargs="?", help="one component of that kind"),
         HYPOTHESES,
         arg("--components", default=None, help="the project's components folder (default: components/ beside "
             "the hypotheses folder)"))
def describe(a: argparse.Namespace) -> int:
    from refute.spec.loader import load_project_components
    from refute.spec.vocabulary import describe as text

    load_project_components(a.hypotheses, a.components)
    try:
        print(text(a.kind, a.name))
    except KeyError as err:
        raise CommandError(err.args[0]) from None
    return 0


# ------------------------------------------------------------------------------------------ helpers

def _known(hyp_id: str, hypotheses: str, results: str) -> None:
    """Raise a CommandError naming the closest known ids unless `hyp_id` has a file or a result folder."""
    import difflib

    from refute.spec.loader import hypothesis_files

    known = {p.stem for p in hypothesis_files(hypotheses)} if Path(hypotheses).is_dir() else set()
    if Path(results).is_dir():
        known |= {d.name for d in Path(results).iterdir() if (d / "verdict.json").exists()}
    if hyp_id in known:
        return
    close = difflib.get_close_matches(hyp_id, sorted(known), n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else f"; known: {', '.join(sorted(known)) or 'none'}"
    raise CommandError(f"unknown hypothesis {hyp_id!r} (no {hypotheses}/{hyp_id}.yaml, no results){hint}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("refute")
    except PackageNotFoundError:  # run from a checkout without installing it
        return "unknown (not installed)"


# --------------------------------------------------------------------------------------------- main

def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="refute", description="Hypothesis-testing workflows for the science of "
                                 "deep learning: form → test → refine.")
    ap.add_argument("--version", action="version", version=f"refute {_version()}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="command")
    for c in COMMANDS.values():
        p = sub.add_parser(c.name, help=c.help, description=c.help)
        for flags, kwargs in c.arguments:
            p.add_argument(*flags, **kwargs)
        p.set_defaults(func=c.run)
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` goes to the tool underneath as it is (`refute run -- --forceall`).
    cut = argv.index("--") if "--" in argv else len(argv)
    a = parser().parse_args(argv[:cut])
    a.passthrough = argv[cut + 1:]
    try:
        if hasattr(a, "hypotheses"):
            # The project's own components, before any hypothesis, plan or record names one of them.
            from refute.spec.loader import load_project_components

            load_project_components(a.hypotheses, getattr(a, "components", None))
        return a.func(a)
    except SpecError as err:
        print(f"refute: invalid hypothesis files:\n{err}", file=sys.stderr)
        return 1
    except CommandError as err:
        print(f"refute: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
