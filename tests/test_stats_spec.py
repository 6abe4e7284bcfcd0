"""Statistics in the hypothesis file: the analysis block and the new kinds fail early, with file and line."""

import pytest

from conftest import write_yaml
from refute.spec.errors import SpecError
from refute.spec.loader import load_hypothesis


def errors_of(path) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_hypothesis(path)
    return [str(i) for i in exc.value.issues]


def line_of(path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_analysis_defaults_to_holm_and_invalidating_failures(tmp_path, tiny):
    h = load_hypothesis(write_yaml(tmp_path / "h.yaml", tiny))
    assert h.hypothesis.analysis.correction == "holm" and h.hypothesis.analysis.failed_runs == "invalid"


def test_unknown_correction_is_named_with_its_line(tmp_path, tiny):
    tiny["analysis"] = {"correction": "bonferroni"}
    path = write_yaml(tmp_path / "h.yaml", tiny)
    [err] = errors_of(path)
    assert err.startswith(f"{path}:{line_of(path, 'correction')}: analysis.correction: must be 'holm', 'bh' or 'none'")


def test_trend_on_a_parameter_that_does_not_vary_is_rejected(tmp_path, tiny):
    tiny["predictions"] = [{"id": "t", "kind": "trend", "metric": "val_acc", "reduce": "final",
                            "x": {"param": "train.lr"}, "direction": "greater"}]
    path = write_yaml(tmp_path / "h.yaml", tiny)
    [err] = errors_of(path)
    assert "predictions.0.x: needs at least two distinct x values" in err


def test_trend_on_a_missing_parameter_names_the_condition(tmp_path, tiny):
    tiny["sweep"] = {"train.lr": [0.01, 0.02]}
    tiny["predictions"] = [{"id": "t", "kind": "trend", "metric": "val_acc", "reduce": "final",
                            "x": {"param": "train.momentum"}, "direction": "greater"}]
    path = write_yaml(tmp_path / "h.yaml", tiny)
    errs = errors_of(path)
    assert any("predictions.0.x.param: condition 'lr=0.01' has no field 'train.momentum'" in e for e in errs)


def test_trend_over_metrics_checks_each_metric_is_logged(tmp_path, tiny):
    tiny["predictions"] = [{"id": "t", "kind": "trend", "reduce": "final", "direction": "less",
                            "x": {"metrics": {"val_acc": 1.0, "mode7_strength": 2.0}}}]
    path = write_yaml(tmp_path / "h.yaml", tiny)
    [err] = errors_of(path)
    assert "predictions.0.x.metrics: metric 'mode7_strength' is never logged or probed in condition 'default'" in err


def test_power_law_needs_positive_x(tmp_path, tiny):
    tiny["sweep"] = {"train.weight_decay": [0.0, 0.1]}
    tiny["predictions"] = [{"id": "s", "kind": "power_law", "metric": "val_loss", "reduce": "final",
                            "x": {"param": "train.weight_decay"}, "exponent": {"high": 0}}]
    [err] = errors_of(write_yaml(tmp_path / "h.yaml", tiny))
    assert "predictions.0.x: a log scale needs every x > 0" in err


def test_equivalence_names_unknown_conditions(tmp_path, tiny):
    tiny["predictions"] = [{"id": "e", "kind": "equivalence", "conditions": ["default", "other"],
                            "metric": "val_acc", "reduce": "final", "margin": 0.1}]
    [err] = errors_of(write_yaml(tmp_path / "h.yaml", tiny))
    assert "unknown condition 'other'; defined: default" in err


def test_divide_by_needs_a_numeric_field_in_every_condition(tmp_path, tiny):
    tiny["predictions"][0]["divide_by"] = {"param": "train.optimizer.name"}
    [err] = errors_of(write_yaml(tmp_path / "h.yaml", tiny))
    assert "predictions.0.divide_by.param: train.optimizer.name is 'adamw' in condition 'default'" in err


def test_correlation_names_its_other_metric_when_it_is_not_logged(tmp_path, tiny):
    tiny["predictions"] = [{"id": "c", "kind": "correlation", "metric": "val_acc", "reduce": "final",
                            "x": {"metric": "sharpness", "reduce": "final"}, "direction": "greater"}]
    [err] = errors_of(write_yaml(tmp_path / "h.yaml", tiny))
    assert "predictions.0.x.metric: metric 'sharpness' is never logged or probed in condition 'default'" in err
