"""The prediction scoreboard counts every pre-registered prediction once and scores stated priors."""

import pytest

from conftest import write_yaml
from refute.loop.scoreboard import score


def hyp(id, verdict, *preds, post_hoc=False):
    return {"id": id, "verdict": verdict, "post_hoc": post_hoc,
            "predictions": [{"id": p, "status": s, "prior": q} for p, s, q in preds]}


def test_counts_and_brier_by_hand():
    board = score([
        hyp("a", "SUPPORTED", ("a1", "holds", 0.9), ("a2", "holds", None)),
        hyp("b", "REFUTED", ("b1", "contradicted", 0.8), ("b2", "holds", 0.6), ("b3", "inconclusive", 0.5)),
        hyp("c", "INCONCLUSIVE", ("c1", "inconclusive", None)),
        hyp("d", "INVALID", ("d1", "holds", 0.7)),  # invalid runs are no evidence, even where a test "held"
        hyp("e", None, ("e1", None, 0.3)),  # not analysed yet
        hyp("f", "SUPPORTED", ("f1", "holds", 0.2), post_hoc=True),  # edited after results: not pre-registered
    ])
    assert (board.predictions, board.held, board.contradicted, board.undecided, board.invalid, board.post_hoc,
            board.pending) == (9, 3, 1, 2, 1, 1, 1)
    assert board.decided == 4 and board.hit_rate == pytest.approx(3 / 4)
    # Decided with a prior: a1 (0.9, held), b1 (0.8, contradicted), b2 (0.6, held).
    assert board.brier_n == 3
    assert board.brier == pytest.approx(((0.9 - 1) ** 2 + (0.8 - 0) ** 2 + (0.6 - 1) ** 2) / 3)
    assert board.with_prior == 7
    assert [r.brier for r in board.rows if r.hypothesis == "d"] == [None]


def test_no_decided_prior_means_no_brier_score():
    board = score([hyp("a", "INCONCLUSIVE", ("a1", "inconclusive", 0.9))])
    assert board.brier is None and board.brier_n == 0 and board.hit_rate is None


def test_an_unknown_outcome_is_an_error_not_a_miscount():
    with pytest.raises(ValueError, match="unknown outcome"):
        score([hyp("a", "SUPPORTED", ("a1", "held", None))])


def test_prior_is_a_probability(tmp_path, tiny):
    from refute.spec.errors import SpecError
    from refute.spec.loader import load_hypothesis

    tiny["predictions"][0]["prior"] = 1.5
    with pytest.raises(SpecError, match=r"predictions.0.prior: must be <= 1"):
        load_hypothesis(write_yaml(tmp_path / "h.yaml", tiny))


def test_a_prediction_that_read_seen_data_is_listed_not_scored():
    board = score([{"id": "a", "verdict": "SUPPORTED", "post_hoc": False,
                    "predictions": [{"id": "a1", "status": "holds", "prior": 0.9, "seen": True},
                                    {"id": "a2", "status": "holds", "prior": 0.9}]}])
    assert (board.held, board.seen, board.brier_n) == (1, 1, 1)
    assert [r.status for r in board.rows] == ["seen data", "holds"]
