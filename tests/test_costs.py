"""Job sizes from the run spec: counts that match what torch builds, and resources that grow with the work."""

import pytest

from refute.scaling import costs
from refute.components.models import build_model, mlp
from refute.components.tasks import build_task
from refute.spec.blueprint import blueprint
from refute.training.loop import fit
from test_train import run_spec


@pytest.mark.parametrize("params", [{"width": 32, "d_embed": 8}, {"width": 5, "depth": 3, "d_embed": 2},
                                    {"width": 16, "depth": 0, "d_embed": 4}])
def test_mlp_cost_counts_the_parameters_torch_builds(params):
    run = run_spec([0]).model_copy(update={"model": run_spec([0]).model.model_copy(
        update={"params": mlp.MLPParams(**params)})})
    built = build_model(run, build_task(run.task), [0])
    assert costs.job_cost(run).params_per_seed == sum(p.numel() for p in built.parameters())


def test_evaluation_points_are_the_ones_the_training_loop_logs():
    run = run_spec([0], steps=45, eval_every=10)
    run = run.model_copy(update={"observables": [*run.observables[:2],
                                                 run.observables[2].model_copy(update={"every": 4})]})
    logged = fit(run, log=lambda m: None).metrics.step.nunique()
    assert blueprint(run).evals == logged


def test_flops_grow_linearly_with_seeds_and_steps():
    one = costs.job_cost(run_spec([0], steps=100))
    assert costs.job_cost(run_spec([0, 1, 2], steps=100)).flops == pytest.approx(3 * one.flops)
    assert costs.job_cost(run_spec([0], steps=200)).train_flops == pytest.approx(2 * one.train_flops)
    assert costs.job_cost(run_spec([0, 1, 2]), seeds=1).flops == pytest.approx(costs.job_cost(run_spec([0])).flops)


def test_resources_grow_with_the_work_and_have_floors():
    small = costs.job_cost(run_spec([0], steps=10))
    big = costs.job_cost(run_spec(list(range(2000)), steps=1_000_000))
    assert costs.mem_mb(small, "cpu") >= costs.BASE_MB and costs.mem_mb(small, "cpu") % 100 == 0
    assert costs.mem_mb(big, "cpu") > costs.mem_mb(small, "cpu")
    assert costs.runtime_min(small, "cpu") == costs.MIN_RUNTIME_MIN
    assert costs.runtime_min(big, "cpu") > costs.runtime_min(big, "cuda") > costs.MIN_RUNTIME_MIN
    # The time limit is generous: at least twice the pessimistic compute estimate.
    assert costs.runtime_min(big, "cpu") * 60 >= 2 * costs.estimated_seconds(big, "cpu")


def test_weight_snapshots_are_counted_in_memory():
    plain = costs.job_cost(run_spec([0, 1], steps=40))
    kept = costs.job_cost(run_spec([0, 1], steps=40, snapshots=[0, 10, 20, 30]))
    assert kept.memory_bytes - plain.memory_bytes == 4 * 4 * plain.params_per_seed * 2
    assert kept.flops == plain.flops
