"""Rounds of seeds: the evidence path of each prediction of a sequential hypothesis, and when to stop.

A sequential hypothesis (`sequential: {seeds_per_round, max_seeds}`) is planned, and sealed, as rounds
of fresh seeds (refute.spec.schema.Sequential). After each round every prediction is looked at again on
all the runs so far (refute.components.predictions.sequential): its e-values are anytime-valid, so a
prediction is decided the first time one crosses k/α (k predictions: Bonferroni on e-values) and stays
decided; the hypothesis stops when every prediction is decided, or when the seed budget is spent.
The confidence sequence reported is the running intersection of every look's (valid at every look,
so their intersection is too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from refute.components.predictions import TestResult
from refute.components.predictions import sequential as seq
from refute.components.predictions.outcome import CONTRADICTED, HOLDS, UNDECIDED, Outcome, _fmt
from refute.layout import RUN_RECORD, Layout
from refute.spec.plan import Plan


@dataclass
class EvidencePath:
    """One prediction's looks, one per round analysed, and its decision (the first crossing, kept)."""

    looks: list[seq.Evidence] = field(default_factory=list)
    decided_at: int | None = None  # the round (1-based) of the first crossing

    @property
    def status(self) -> str:
        return self.looks[self.decided_at - 1].status if self.decided_at else UNDECIDED

    def sequence(self) -> tuple[float, float]:
        """The running intersection of the confidence sequences up to the decision (or the last look)."""
        upto = self.looks[: self.decided_at or len(self.looks)]
        return max(lk.sequence[0] for lk in upto), min(lk.sequence[1] for lk in upto)


def alpha_of(pred, hyp: Plan) -> float:
    """The level a prediction's e-values are held to: α/k for k predictions (Bonferroni on e-values), α with
    analysis.correction: none."""
    k = len(hyp.hypothesis.predictions)
    return pred.alpha / k if k > 1 and hyp.hypothesis.analysis.correction != "none" else pred.alpha


def trained_rounds(hyp: Plan, results: Path) -> int:
    """How many rounds, in order from the first, have every run trained (a plan that is not sequential: 1)."""
    done = 1
    while done < hyp.round_count() and all(Layout(results).run_file(h, RUN_RECORD).exists()
                                           for h in hyp.round_runs(done + 1).values()):
        done += 1
    return done


def merge_records(a: dict, b: dict) -> dict:
    """One condition's run records of two rounds, as one: their seeds, divergences and training time."""
    return {**a, "seeds": [*a.get("seeds", []), *b.get("seeds", [])],
            "diverged": {**a.get("diverged", {}), **b.get("diverged", {})},
            "wall_seconds": a.get("wall_seconds", 0.0) + b.get("wall_seconds", 0.0)}


def round_rows(data: pd.DataFrame, hyp: Plan, upto: int) -> pd.DataFrame:
    """The tested rows of rounds 1..upto: each condition's seeds of those rounds."""
    keep = {c: set() for c in hyp.conditions}
    for k in range(1, upto + 1):
        for c, run in hyp.round_conditions(k).items():
            keep[c] |= set(run.seeds)
    mask = [int(s) in keep.get(c, ()) for c, s in zip(data.condition, data.seed)]
    return data[mask]


def paths(hyp: Plan, data: dict[str, pd.DataFrame], rounds: int) -> dict[str, EvidencePath]:
    """Each prediction's path over rounds 1..`rounds` (data: prediction id → its tested rows of every round)."""
    preds = list(hyp.hypothesis.predictions)
    out = {p.id: EvidencePath() for p in preds}
    for r in range(1, rounds + 1):
        for pred in preds:
            summary, _, n = seq.summarize(pred, round_rows(data[pred.id], hyp, r))
            evidence = seq.look(pred.direction, pred.min_effect, summary, n, alpha_of(pred, hyp))
            path = out[pred.id]
            path.looks.append(evidence)
            if path.decided_at is None and evidence.status != UNDECIDED:
                path.decided_at = r
    return out


def stop_round(hyp: Plan, data: dict[str, pd.DataFrame], available: int) -> int:
    """The round at which the hypothesis stops: the first at which every prediction is decided, or the
    last planned (or, when fewer are trained yet, `available`)."""
    # A decision is kept once reached, so the looks up to r are the first r looks of the whole path.
    decided = [p.decided_at for p in paths(hyp, data, available).values()]
    return max(decided) if all(decided) else available


def should_continue(hyp: Plan, data: dict[str, pd.DataFrame], round_: int) -> bool:
    """Whether a round after `round_` is needed: some prediction is undecided and seeds remain."""
    return round_ < hyp.round_count() and not all(p.decided_at for p in paths(hyp, data, round_).values())


def result(pred, path: EvidencePath, data: pd.DataFrame, hyp: Plan) -> TestResult:
    """The test record of a prediction decided (or not) along `path` (its tested rows: `data`): the e-value of
    the decision it reached (else against the claim's failure) and the confidence sequence; the path by round
    is the verdict's `sequential` record."""
    last = path.looks[(path.decided_at or len(path.looks)) - 1]
    e = last.e_contradicts if path.status == CONTRADICTED else last.e_holds
    alpha, rounds, planned = alpha_of(pred, hyp), len(path.looks), hyp.round_count()
    effect = seq.summarize(pred, data)[1]
    extra = {"e_value": e, "e_holds": last.e_holds, "e_contradicts": last.e_contradicts,
             "rounds": rounds, "rounds_planned": planned, "decided_at_round": path.decided_at or 0,
             "threshold_e": 1 / alpha, "prior_g": seq.G}
    t = last.estimate
    notes = [f"sequential: {rounds} of {planned} planned round(s) analysed, {sum(last.n.values())} runs; "
             f"decided when an e-value reaches k/α = {1 / alpha:.4g} (anytime-valid: checking after every round "
             "keeps the error rate at α)"]
    # p: the anytime-valid p-value 1/E against the claim's negation (capped at 1).
    return TestResult(seq.TEST_NAME, float(e), min(1.0, 1 / last.e_holds) if last.e_holds > 0 else 1.0, t,
                      path.sequence(), effect, dict(last.n), extra, notes, ci_level=1 - alpha)


def outcome(pred, path: EvidencePath, alpha: float) -> Outcome:
    """holds / contradicted / inconclusive from the e-values (held to `alpha`), saying at which round."""
    lo, hi = path.sequence()
    cs = f"{100 * (1 - alpha):.4g}% confidence sequence [{_fmt(lo)}, {_fmt(hi)}]"
    if path.decided_at:
        lk = path.looks[path.decided_at - 1]
        if path.status == HOLDS:
            return Outcome(HOLDS, f"e-value {_fmt(lk.e_holds)} ≥ 1/α = {1 / alpha:.4g} against no effect (or the "
                           f"wrong direction) at round {path.decided_at}, effect {_fmt(lk.estimate)}"
                           + (f" ≥ δ = {pred.min_effect:g}" if pred.min_effect else "") + f"; {cs}",
                           "none: an anytime-valid decision stands")
        return Outcome(CONTRADICTED, f"e-value {_fmt(lk.e_contradicts)} ≥ 1/α = {1 / alpha:.4g} against an effect "
                       f"of δ = {pred.min_effect:g} or more in the predicted direction at round {path.decided_at}; "
                       f"{cs}", "none: an anytime-valid decision stands")
    last = path.looks[-1]
    return Outcome(UNDECIDED, f"after {len(path.looks)} round(s) neither e-value reached 1/α = {1 / alpha:.4g} "
                   f"(against the claim's failure {_fmt(last.e_holds)}, against the claim {_fmt(last.e_contradicts)}); "
                   f"{cs}", "more rounds: a larger sequential.max_seeds, sealed as a new plan")


def record(hyp: Plan, paths: dict[str, EvidencePath], rounds: int):
    """The sequential record of a verdict: every round analysed, with each prediction's e-values after it."""
    from refute.stats.records import RoundRecord, SequentialRecord

    out = []
    for r in range(1, rounds + 1):
        runs = hyp.round_runs(r)
        looks = {pid: p.looks[r - 1] for pid, p in paths.items()}
        out.append(RoundRecord(
            round=r, seeds={c: list(run.seeds) for c, run in hyp.round_conditions(r).items()}, runs=runs,
            e_holds={pid: lk.e_holds for pid, lk in looks.items()},
            e_contradicts={pid: lk.e_contradicts for pid, lk in looks.items()},
            status={pid: (p.status if p.decided_at and p.decided_at <= r else UNDECIDED) for pid, p in paths.items()}))
    decided = all(p.decided_at for p in paths.values())
    stopped = ("every prediction decided" if decided else
               "the seed budget (max_seeds) is spent" if rounds == hyp.round_count() else
               f"round {rounds + 1} is not trained yet")
    plan = hyp.hypothesis.sequential
    return SequentialRecord(seeds_per_round=plan.seeds_per_round, max_seeds=plan.max_seeds,
                            rounds_planned=hyp.round_count(), rounds=out, stopped=stopped, test=seq.TEST_NAME)


def look_after_round(plan_path: str | Path, results: str | Path, round_: int) -> dict:
    """What the workflow's checkpoint after round `round_` writes: whether another round is needed."""
    from refute import io
    from refute.spec.plan import read_plan
    from refute.stats.analyse import tested_data

    hyp = read_plan(plan_path)
    results = Path(results)
    data = tested_data(hyp, results, round_)
    found = paths(hyp, data, round_)
    decision = {"id": hyp.id, "round": round_, "rounds_planned": hyp.round_count(),
                "status": {pid: p.status for pid, p in found.items()},
                "continue": should_continue(hyp, data, round_)}
    io.write_json(Layout(results).round_file(hyp.id, round_), decision)
    return decision
