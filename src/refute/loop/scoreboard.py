"""The prediction scoreboard: how well the agenda predicts what networks will do before training them.

Every pre-registered prediction of every hypothesis counts once. A prediction is

- held / contradicted / undecided  by the outcome its test gave (see `stats.verdict`);
- invalid   when its hypothesis is INVALID (a run failed or diverged): its outcome is not evidence;
- post hoc  when its hypothesis's predictions or analysis were edited after the plan was sealed
            (`post_hoc` in verdict.json): no longer a pre-registered prediction, so not scored;
- seen data when it read runs whose data existed before its plan was sealed (`seen` in predictions.json):
            not a prediction made before the data, so not scored;
- pending   when its hypothesis has not been analysed yet.

The hit rate is held / (held + contradicted). Where the author stated a `prior` (the probability, given
before training, that the prediction holds), the Brier score is the mean of (prior − outcome)² over the
decided predictions, outcome 1 if it held and 0 if contradicted: 0 is perfect foresight, 0.25 is what
always saying 50% earns, 1 is certainty in the wrong answer every time. Undecided predictions are not
scored until more seeds decide them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from refute.components.predictions.outcome import CONTRADICTED, HOLDS, INVALID, UNDECIDED

HELD, PENDING, INVALIDATED, POST_HOC, SEEN = HOLDS, "pending", "invalid", "post hoc", "seen data"


@dataclass
class Row:
    hypothesis: str
    prediction: str
    status: str  # holds | contradicted | inconclusive | invalid | post hoc | seen data | pending
    prior: float | None
    brier: float | None  # (prior − outcome)² when decided and a prior was stated


@dataclass
class Scoreboard:
    predictions: int = 0
    held: int = 0
    contradicted: int = 0
    undecided: int = 0
    invalid: int = 0
    post_hoc: int = 0
    seen: int = 0
    pending: int = 0
    hit_rate: float | None = None
    brier: float | None = None
    brier_n: int = 0
    with_prior: int = 0
    rows: list[Row] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return self.held + self.contradicted

    def to_dict(self) -> dict:
        return {**asdict(self), "decided": self.decided}


def score(hypotheses: list[dict]) -> Scoreboard:
    """Score every prediction. Each item: {"id", "verdict" (None if not analysed), "post_hoc", "predictions":
    [{"id", "status" (None if not analysed), "prior" (None if not stated), "seen" (read seen data)}]}."""
    board = Scoreboard()
    for h in hypotheses:
        for p in h["predictions"]:
            if h.get("verdict") is None or p.get("status") is None:
                status = PENDING
            elif h["verdict"] == INVALID:
                status = INVALIDATED
            elif h.get("post_hoc"):
                status = POST_HOC
            elif p.get("seen"):
                status = SEEN
            else:
                status = p["status"]
            prior = p.get("prior")
            term = None
            if prior is not None and status in (HOLDS, CONTRADICTED):
                term = (prior - (1.0 if status == HOLDS else 0.0)) ** 2
            board.rows.append(Row(h["id"], p["id"], status, prior, term))
    counts = {HOLDS: "held", CONTRADICTED: "contradicted", UNDECIDED: "undecided", INVALIDATED: "invalid",
              POST_HOC: "post_hoc", SEEN: "seen", PENDING: "pending"}
    for r in board.rows:
        if r.status not in counts:
            raise ValueError(f"{r.hypothesis}/{r.prediction}: unknown outcome {r.status!r}")
        setattr(board, counts[r.status], getattr(board, counts[r.status]) + 1)
    board.predictions = len(board.rows)
    board.with_prior = sum(r.prior is not None for r in board.rows)
    if board.decided:
        board.hit_rate = board.held / board.decided
    terms = [r.brier for r in board.rows if r.brier is not None]
    board.brier_n = len(terms)
    if terms:
        board.brier = sum(terms) / len(terms)
    return board
