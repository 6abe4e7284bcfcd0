"""The bundled example hypotheses are valid and ask for what their claims need."""

from conftest import ROOT
from refute.spec.loader import load_all, metrics_of


def test_every_bundled_hypothesis_is_valid():
    hyps = {h.id: h for h in load_all(ROOT / "hypotheses")}
    assert {"grokking-weight-decay", "edge-of-stability", "deep-linear-stagewise"} <= set(hyps)

    eos = hyps["edge-of-stability"]
    assert {r.train.lr for r in eos.conditions.values()} == {0.1, 0.2}
    assert all(r.train.batch_size == "full" and r.train.optimizer.name == "sgd" for r in eos.conditions.values())
    assert "stability_ratio" in metrics_of(next(iter(eos.conditions.values())))

    stagewise = hyps["deep-linear-stagewise"]
    assert {c: r.model.params.layers for c, r in stagewise.conditions.items()} == {"deep": 2, "shallow": 1}
