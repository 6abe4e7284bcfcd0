"""The blueprint: a run's shapes and sizes from its spec alone, equal to what torch builds, computed without
torch; and the component contracts, enforced when a component registers."""

import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT
from refute.components.models import MODELS, Architecture, Model, build_model
from refute.components.observables import Observable, ObservableParams
from refute.components.tasks import Task, TaskData, TaskInfo, build_task
from refute.registry import ComponentError, Params, Registry
from refute.scaling import costs
from refute.spec.blueprint import blueprint
from refute.spec.errors import SpecError
from refute.spec.loader import plan_data
from refute.spec.schema import RunSpec

TASKS_BY_INPUT = {
    "tokens": {"name": "modular_arithmetic", "params": {"p": 7, "train_fraction": 0.5}},
    "dense": {"name": "sparse_parity", "params": {"n_bits": 10, "k": 2, "n_train": 16, "n_val": 8}},
    "teacher": {"name": "teacher_student", "params": {"d_in": 6, "d_out": 3, "n_train": 16, "n_val": 8}},
    "sequence": {"name": "in_context_regression", "params": {"dim": 3, "n_points": 5, "n_train": 16, "n_val": 8}},
    "image": {"name": "digits", "params": {"n_train": 16, "n_val": 8}},
}
MODELS_UNDER_TEST = {
    "mlp": {"name": "mlp", "params": {"width": 12, "depth": 2, "d_embed": 4}},
    "mlp-mup-nobias": {"name": "mlp", "params": {"width": 16, "depth": 3, "d_embed": 4, "bias": False,
                                                 "parameterization": "mup", "base_width": 8}},
    "mlp-linear": {"name": "mlp", "params": {"width": 8, "depth": 0, "d_embed": 3}},
    "deep_linear": {"name": "deep_linear", "params": {"layers": 3, "width": 5}},
    "cnn": {"name": "cnn", "params": {"channels": [4, 6], "hidden": 8}},
    "cnn-no-hidden": {"name": "cnn", "params": {"channels": [3, 5, 2], "hidden": 0}},
    "transformer": {"name": "transformer", "params": {"d_model": 8, "n_heads": 2, "d_mlp": 12, "n_layers": 2}},
    "attention-only": {"name": "transformer", "params": {"d_model": 12, "n_heads": 3, "attention_only": True}},
}
# Every input kind each model reads.
PAIRS = ([("mlp", k) for k in ("tokens", "dense", "sequence", "image")]
         + [("mlp-mup-nobias", k) for k in ("tokens", "teacher", "sequence")] + [("mlp-linear", "sequence")]
         + [("deep_linear", "teacher"), ("deep_linear", "image"), ("cnn", "image"), ("cnn-no-hidden", "image")]
         + [(m, k) for m in ("transformer", "attention-only") for k in ("tokens", "sequence")])


def run_spec(model: str, task: str, **train) -> RunSpec:
    return RunSpec.model_validate({"task": TASKS_BY_INPUT[task], "model": MODELS_UNDER_TEST[model], "seeds": [0, 4],
                                   "train": {"lr": 0.01, "steps": 10, "eval_every": 5, **train}, "observables": ["loss"]})


@pytest.mark.parametrize("model, task", PAIRS, ids=[f"{m}-{t}" for m, t in PAIRS])
def test_the_blueprint_has_the_parameters_torch_builds(model, task):
    run = run_spec(model, task)
    arch = blueprint(run).model
    net = build_model(run, build_task(run.task), list(run.seeds))
    built = {name: tuple(p.shape[1:]) for name, p in net.named_parameters()}
    assert list(arch.parameters.items()) == list(built.items())  # names, shapes and initialisation order
    assert arch.n_params == blueprint(run).params_per_seed == sum(p[0].numel() for p in net.parameters())
    assert all(p.shape[0] == 2 for p in net.parameters())


def test_an_mlp_reads_a_sequence_as_one_long_vector_and_counts_it():
    arch = blueprint(run_spec("mlp", "sequence")).model
    # 5 positions of 3 + 2 features each: the first layer reads 25 inputs (the old cost counted 5).
    assert arch.parameters["w0"] == (25, 12) and arch.sites["input"] == 25
    assert arch.n_params == 25 * 12 + 12 + 12 * 12 + 12 + 12 * 1 + 1


def test_the_blueprint_is_memoised_by_run_hash():
    a, b = run_spec("mlp", "tokens"), run_spec("mlp", "tokens")
    assert a is not b and blueprint(a) is blueprint(b)
    assert blueprint(run_spec("mlp", "tokens", steps=20)) is not blueprint(a)


def test_examples_per_step_follow_the_batch_and_the_task():
    assert blueprint(run_spec("mlp", "dense")).examples_per_step == 16  # full batch: the training set
    assert blueprint(run_spec("mlp", "dense", batch_size=4)).examples_per_step == 4
    assert blueprint(run_spec("mlp", "dense", batch_size=64)).examples_per_step == 16  # capped at n_train
    online = run_spec("mlp", "dense", batch_size=64)
    online = online.model_copy(update={"task": online.task.model_copy(
        update={"params": online.task.params.model_copy(update={"online": True})})})
    assert blueprint(online).examples_per_step == 64  # fresh examples: not capped


def test_a_chunk_of_seeds_costs_its_share():
    bp = blueprint(run_spec("transformer", "tokens"))
    assert bp.train_flops(1) * 2 == pytest.approx(bp.train_flops()) and bp.step_flops(1) * 2 == bp.step_flops()
    whole, one = costs.job_cost(run_spec("transformer", "tokens")), costs.job_cost(run_spec("transformer", "tokens"), 1)
    assert one.seeds == 1 and one.flops * 2 == pytest.approx(whole.flops) and one.memory_bytes < whole.memory_bytes


def test_architecture_problems_are_value_errors_and_spec_errors(tiny):
    with pytest.raises(ValueError, match="pool a"):
        MODELS.get("cnn").impl.architecture(MODELS.get("cnn").params(channels=[2, 2, 2, 2]),
                                            TaskInfo(4, 4, "dense", 64, 10, "classification", image_shape=(1, 8, 8)))
    with pytest.raises(ValueError, match="dense inputs only"):
        MODELS.get("deep_linear").impl.architecture(MODELS.get("deep_linear").params(),
                                                    TaskInfo(4, 4, "sequence", 5, 1, "regression", seq_len=3))
    with pytest.raises(ValueError, match="token or sequence"):
        MODELS.get("transformer").impl.architecture(MODELS.get("transformer").params(),
                                                    TaskInfo(4, 4, "dense", 5, 2, "classification"))
    tiny["task"] = {"name": "digits"}
    tiny["model"] = {"name": "cnn", "params": {"channels": [2, 2, 2, 2]}}
    with pytest.raises(SpecError, match=r"model: 4 conv layers pool a \(8, 8\) image to nothing"):
        plan_data(tiny, "h.yaml")


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_sizing_every_bundled_hypothesis_imports_no_torch():
    out = _python("""
        import sys
        from pathlib import Path
        from refute.scaling import costs, tuning
        from refute.spec.blueprint import blueprint
        from refute.spec.loader import load_hypothesis

        n = 0
        for path in sorted(Path("hypotheses").glob("*.yaml")):
            for run in load_hypothesis(path).conditions.values():
                bp = blueprint(run)
                cost = costs.job_cost(run)
                tuning.choose(bp)
                costs.mem_mb(cost, "cpu"), costs.runtime_min(cost, "cpu")
                n += 1
        print(n, sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
    """)
    n, loaded = out.split(" ", 1)
    assert int(n) > 8 and loaded.strip() == "[]"


def test_a_huge_mlp_gets_a_blueprint_and_a_memory_estimate_without_allocating_it():
    out = _python("""
        import resource, sys
        from refute.scaling import costs
        from refute.spec.blueprint import blueprint
        from refute.spec.schema import RunSpec

        run = RunSpec.model_validate({
            "task": {"name": "sparse_parity", "params": {"n_bits": 64, "n_train": 1000}},
            "model": {"name": "mlp", "params": {"width": 65536, "depth": 32}},
            "train": {"lr": 0.01, "steps": 10, "eval_every": 10}, "seeds": 4, "observables": ["loss"]})
        bp = blueprint(run)
        print(bp.params_per_seed, costs.mem_mb(costs.job_cost(run), "cpu"),
              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "torch" in sys.modules)
    """)
    params, mem_mb, peak_mb, torch_loaded = out.split()
    assert int(params) == 64 * 65536 + 65536 + 31 * (65536 * 65536 + 65536) + 65536 * 2 + 2
    assert int(mem_mb) > 4 * 16 * int(params) / 2**20  # 4 seeds of weights, gradients and Adam moments
    assert int(peak_mb) < 1000 and torch_loaded == "False"


# --- contracts: a component that does not implement its kind's contract fails when it registers ---------


class NoParams(Params):
    pass


def test_a_task_missing_a_method_fails_at_registration_with_its_file_and_line():
    reg = Registry("task", __name__, contract=Task)
    with pytest.raises(ComponentError, match=rf"{__file__}:\d+: task 'half' does not implement build"):
        @reg.register("half", NoParams)
        class Half(Task):
            provides = frozenset({"dense"})

            def info(self, p):
                return TaskInfo(1, 1, "dense", 1, 1, "regression")


def test_a_task_that_does_not_say_what_it_provides_fails_at_registration():
    reg = Registry("task", __name__, contract=Task)
    with pytest.raises(ComponentError, match="does not implement provides"):
        @reg.register("silent", NoParams)
        class Silent(Task):
            def info(self, p):
                return TaskInfo(1, 1, "dense", 1, 1, "regression")

            def build(self, p):
                raise NotImplementedError


def test_a_model_with_a_wrong_signature_fails_at_registration_with_its_file_and_line():
    reg = Registry("model", __name__, contract=Model)
    with pytest.raises(ComponentError, match=rf"{__file__}:\d+: model 'old': architecture\(\) takes p, data, seeds; "
                                              r"the contract is architecture\(p, task\)"):
        @reg.register("old", NoParams)
        class Old(Model):
            reads = frozenset({"dense"})

            def architecture(self, p, data, seeds):
                raise NotImplementedError

            def build(self, p, arch: Architecture, data: TaskData, seeds):
                raise NotImplementedError


def test_a_component_that_is_not_a_subclass_of_its_contract_is_refused():
    reg = Registry("model", __name__, contract=Model)
    with pytest.raises(ComponentError, match=r"must be a class deriving from refute.components.models.Model"):
        @reg.register("duck", NoParams)
        class Duck:
            reads = frozenset({"dense"})

            def architecture(self, p, task):
                raise NotImplementedError

            def build(self, p, arch, data, seeds):
                raise NotImplementedError


def test_an_observable_missing_compute_fails_at_registration():
    reg = Registry("observable", __name__, contract=Observable, params_base=ObservableParams)
    with pytest.raises(ComponentError, match=rf"{__file__}:\d+: observable 'blind' does not implement compute"):
        @reg.register("blind", ObservableParams)
        class Blind(Observable):
            def metric_names(self, p, run, arch):
                return ["x"]


def test_every_built_in_component_meets_its_contract():
    from refute.components.observables import OBSERVABLES
    from refute.components.optimizers import OPTIMIZERS, OptimizerRule
    from refute.components.probes import PROBES, Probe
    from refute.components.reductions import REDUCTIONS, Reducer
    from refute.components.tasks import TASKS

    for registry, contract in ((TASKS, Task), (MODELS, Model), (OBSERVABLES, Observable), (PROBES, Probe),
                               (REDUCTIONS, Reducer), (OPTIMIZERS, OptimizerRule)):
        assert registry.names() and all(isinstance(e.impl, contract) for e in registry.entries())
    assert [n for n in OPTIMIZERS.names() if OPTIMIZERS.get(n).impl.adaptive] == ["adam", "adamw"]
    assert [n for n in REDUCTIONS.names() if type(REDUCTIONS.get(n).impl).censored is not Reducer.censored] == [
        "first_crossing"]
