"""Bad hypothesis files, one row of the issue's table at a time: each is refused with file, line and field.

Complements test_spec.py (which holds the first examples of several rows); here every row is covered
with the cases a researcher is likely to type, and each error's line is checked against the file.
"""

import pytest

from conftest import dedent, write_yaml
from refute.spec import yamlfile
from refute.spec.errors import SpecError, SpecIssue
from refute.spec.loader import load_all, load_hypothesis


def issues_of(path) -> list[SpecIssue]:
    with pytest.raises(SpecError) as exc:
        load_hypothesis(path)
    assert exc.value.issues, "a SpecError must list at least one issue"
    return exc.value.issues


def line_of(path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def assert_one(path, field: str, fragment: str, needle: str | None):
    """Exactly the expected issue is among the file's issues, at the line holding `needle`."""
    issues = issues_of(path)
    # A union with one member names its tag (task.name), one with several the field itself (task).
    hits = [i for i in issues if i.field in (field, f"{field}.name") and fragment in i.message]
    assert hits, [str(i) for i in issues]
    assert hits[0].file == str(path)
    if needle is not None:
        assert hits[0].line == line_of(path, needle), str(hits[0])
    return issues


# ---- malformed YAML -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, line, fragment", [
    ("id: x\ntrain:\n\tlr: 1\n", 3, "found character '\\t' that cannot start any token"),
    ("id: x\ntitle: 'unterminated\n", 3, "malformed YAML"),
    ("id: x\n---\nid: y\n", 2, "malformed YAML: expected a single document in the stream, but found another"),
    ("id: !!python/object/apply:os.system ['echo pwned']\n", 1, "malformed YAML: could not determine a constructor"),
    ("id: x\nseeds: 3\nseeds: 4\n", 3, "duplicate key (first at line 2)"),
    ("train:\n  lr: 0.1\n  steps: 5\n  lr: 0.2\n", 4, "duplicate key (first at line 2)"),
    ("id: " + "[" * 100 + "]" * 100 + "\n", 1, "nested more than"),
    ("a: &a [*a]\n", 1, "refers to its own anchor"),
    ("id: 2024-13-45\n", 1, "malformed YAML: month must be in 1..12"),
])
def test_malformed_yaml_is_refused_at_its_line(tmp_path, text, line, fragment):
    [issue] = issues_of(write_yaml(tmp_path / "h.yaml", text))
    assert (issue.line, fragment in issue.message) == (line, True), str(issue)


def test_a_duplicate_key_names_the_dotted_field(tmp_path):
    [issue] = issues_of(write_yaml(tmp_path / "h.yaml", "train:\n  lr: 0.1\n  lr: 0.2\n"))
    assert str(issue) == f"{tmp_path / 'h.yaml'}:3: train.lr: duplicate key (first at line 2); " \
                         "YAML would silently keep only the last"


def test_aliases_cannot_blow_a_small_file_up(tmp_path):
    # "Billion laughs": nine levels of ten aliases each would be 10^9 values once expanded.
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10))
    [issue] = issues_of(write_yaml(tmp_path / "h.yaml", text))
    assert "expands to more than" in issue.message


def test_ordinary_anchors_and_merge_keys_still_work(tmp_path, tiny):
    text = write_yaml(tmp_path / "base.yaml", tiny).read_text()
    text = text.replace("train:\n  optimizer: adamw\n", "train: &t\n  optimizer: adamw\n")
    text += "conditions:\n  slow: {<<: {}, train.lr: 0.001}\n"
    text = text.replace("condition: default", "condition: slow")
    h = load_hypothesis(write_yaml(tmp_path / "h.yaml", text))
    assert h.conditions["slow"].train.lr == 0.001


@pytest.mark.parametrize("raw, line, fragment", [
    (b"id: x\ntitle: caf\xe9\n", 2, "not UTF-8 text (byte 0xe9)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", 1, "not UTF-8"),
    (b"id: x\x00\n", 1, "NUL byte"),
])
def test_a_file_that_is_not_text_is_refused(tmp_path, raw, line, fragment):
    path = tmp_path / "h.yaml"
    path.write_bytes(raw)
    [issue] = issues_of(path)
    assert issue.line == line and fragment in issue.message, str(issue)


def test_an_oversized_file_is_refused_without_parsing(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text("# " + "x" * yamlfile.MAX_BYTES + "\n")
    [issue] = issues_of(path)
    assert "may be at most" in issue.message


def test_an_unreadable_entry_is_reported_not_raised(tmp_path, tiny):
    (tmp_path / "folder.yaml").mkdir()
    write_yaml(tmp_path / "good.yaml", tiny)
    with pytest.raises(SpecError) as exc:
        load_all(tmp_path)
    [issue] = exc.value.issues
    assert issue.file == str(tmp_path / "folder.yaml") and "not a regular file" in issue.message


# ---- empty files and files that are not a mapping -----------------------------------------------------

@pytest.mark.parametrize("text, fragment", [
    ("", "the file is empty"),
    ("   \n\n", "the file is empty"),
    ("# only a comment\n", "the file is empty"),
    ("---\n", "the file is empty"),
    ("just a sentence\n", "must be a YAML mapping, not a str"),
    ("42\n", "must be a YAML mapping, not a int"),
    ("- id: x\n", "must be a YAML mapping, not a list"),
])
def test_empty_or_non_mapping_files(tmp_path, text, fragment):
    [issue] = issues_of(write_yaml(tmp_path / "h.yaml", text))
    assert issue.line == 1 and fragment in issue.message


# ---- unknown keys at any depth ------------------------------------------------------------------------

@pytest.mark.parametrize("edit, field, needle", [
    (lambda d: d.update(titel="x"), "titel", "titel:"),
    (lambda d: d["task"]["params"].update(modulus=7), "task.params.modulus", "modulus:"),
    (lambda d: d["task"].update(parms={}), "task.parms", "parms:"),
    (lambda d: d["train"].update(optimizer={"name": "adam", "params": {"beta1": 0.9}}), "train.optimizer.params.beta1",
     "beta1:"),
    (lambda d: d.update(observables=[{"name": "loss", "evry": 5}]), "observables.0.evry", "evry:"),
    (lambda d: d["predictions"][0].update(treshold=0.4), "predictions.0.treshold", "treshold:"),
    (lambda d: d["predictions"][0].update(reduce={"name": "mean_last", "n": 3}), "predictions.0.reduce.n", " n: 3"),
])
def test_unknown_keys_at_any_depth(tmp_path, tiny, edit, field, needle):
    edit(tiny)
    assert_one(write_yaml(tmp_path / "h.yaml", tiny), field, "unknown field", needle)


def test_an_override_of_an_unknown_field_is_refused_at_the_override(tmp_path, tiny):
    tiny["conditions"] = {"c": {"model.params.widht": 64}}
    tiny["predictions"][0]["condition"] = "c"
    path = write_yaml(tmp_path / "h.yaml", tiny)
    assert_one(path, "conditions.c: model.params.widht", "unknown field (did you mean 'width'?)", "widht")


# ---- wrong types --------------------------------------------------------------------------------------

@pytest.mark.parametrize("edit, field, fragment, needle", [
    (lambda d: d["train"].update(lr="fast"), "train.lr", "must be a valid number", "lr: fast"),
    (lambda d: d["train"].update(steps=1.5), "train.steps", "must be a valid integer", "steps: 1.5"),
    (lambda d: d["train"].update(batch_size="half"), "train.batch_size", "", "batch_size: half"),
    (lambda d: d.update(seeds="many"), "seeds", "must be a valid list", "seeds: many"),
    (lambda d: d.update(id=7), "id", "must be a valid string", "id: 7"),
    (lambda d: d.update(observables="loss"), "observables", "must be a valid list", "observables: loss"),
    (lambda d: d.update(predictions={"id": "x"}), "predictions", "must be a valid list", "predictions:"),
    (lambda d: d.update(conditions=["a", "b"]), "conditions", "must be a valid dictionary", "conditions:"),
    (lambda d: d.update(sweep={"train.lr": 0.1}), "sweep.train.lr", "must be a valid list", "train.lr: 0.1"),
    (lambda d: d.update(train=[1, 2]), "train", "must be a valid dictionary", "train:"),
    (lambda d: d["model"].update(params={"width": [32]}), "model.params.width", "must be a valid integer", "width:"),
    (lambda d: d["predictions"][0].update(direction="up"), "predictions.0.direction", "'greater', 'less'",
     "direction: up"),
])
def test_wrong_types_are_named(tmp_path, tiny, edit, field, fragment, needle):
    edit(tiny)
    assert_one(write_yaml(tmp_path / "h.yaml", tiny), field, fragment, needle)


def test_yaml_1_1_scientific_notation_is_explained_as_text(tmp_path, tiny):
    # PyYAML reads 1e-3 as the string '1e-3'; pydantic still parses it as a number, so it is accepted.
    path = write_yaml(tmp_path / "h.yaml", write_yaml(tmp_path / "x.yaml", tiny).read_text().replace(
        "lr: 0.01", "lr: 1e-2"))
    assert load_hypothesis(path).conditions["default"].train.lr == 0.01


# ---- out-of-range numbers -----------------------------------------------------------------------------

@pytest.mark.parametrize("edit, field, fragment, needle", [
    (lambda d: d["train"].update(lr=0), "train.lr", "must be > 0", "lr: 0"),
    (lambda d: d["train"].update(lr=1000), "train.lr", "must be <= 100", "lr: 1000"),
    (lambda d: d["train"].update(lr=float("nan")), "train.lr", "must be a finite number", "lr: .nan"),
    (lambda d: d["train"].update(weight_decay=float("inf")), "train.weight_decay", "must be a finite number",
     "weight_decay: .inf"),
    (lambda d: d["train"].update(weight_decay=-0.1), "train.weight_decay", "must be >= 0", "weight_decay: -0.1"),
    (lambda d: d["train"].update(steps=0), "train.steps", "must be > 0", "steps: 0"),
    (lambda d: d["train"].update(eval_every=0), "train.eval_every", "must be > 0", "eval_every: 0"),
    (lambda d: d["train"].update(batch_size=-4), "train.batch_size", "must be > 0 or 'full'", "batch_size: -4"),
    (lambda d: d.update(seeds=-2), "seeds", "must be between 1 and", "seeds: -2"),
    (lambda d: d.update(seeds=[]), "seeds", "must not be empty", "seeds: []"),
    (lambda d: d.update(seeds=[0, -1]), "seeds.1", "must be >= 0", "- -1"),
    (lambda d: d.update(seeds=2**40), "seeds", "must be between 1 and 10000", "seeds:"),
    (lambda d: d["model"]["params"].update(width=0), "model.params.width", "must be >= 1", "width: 0"),
    (lambda d: d["task"]["params"].update(train_fraction=1.5), "task.params.train_fraction", "must be < 1",
     "train_fraction: 1.5"),
    (lambda d: d.update(observables=[{"name": "loss", "every": 0}]), "observables.0.every", "must be > 0", "every: 0"),
    (lambda d: d["predictions"][0].update(threshold=float("nan")), "predictions.0.threshold",
     "must be a finite number", "threshold: .nan"),
    (lambda d: d["predictions"][0].update(min_effect=-1), "predictions.0.min_effect", "must be >= 0",
     "min_effect: -1"),
])
def test_out_of_range_numbers_are_named(tmp_path, tiny, edit, field, fragment, needle):
    edit(tiny)
    assert_one(write_yaml(tmp_path / "h.yaml", tiny), field, fragment, needle)


# ---- duplicate ids ------------------------------------------------------------------------------------

def test_duplicate_ids_across_three_files_are_each_reported(tmp_path, tiny):
    for name in ("a.yaml", "b.yaml", "c.yaml"):
        write_yaml(tmp_path / name, tiny)
    with pytest.raises(SpecError) as exc:
        load_all(tmp_path)
    assert [(i.file.rsplit("/", 1)[1], i.line, i.field) for i in exc.value.issues] == [("b.yaml", 1, "id"),
                                                                                      ("c.yaml", 1, "id")]
    assert all("already used by" in i.message and i.message.endswith("a.yaml") for i in exc.value.issues)


def test_duplicate_prediction_ids_within_a_file(tmp_path, tiny):
    tiny["predictions"].append(dict(tiny["predictions"][0]))
    path = write_yaml(tmp_path / "h.yaml", tiny)
    [issue] = issues_of(path)
    assert (issue.field, issue.message, issue.line) == ("predictions.1.id", "duplicate id 'fits'",
                                                        [i for i, l in enumerate(path.read_text().splitlines(), 1)
                                                         if "id: fits" in l][1])


def test_other_files_errors_are_all_listed_together(tmp_path, tiny):
    write_yaml(tmp_path / "good.yaml", tiny)
    write_yaml(tmp_path / "empty.yaml", "")
    tiny["id"] = "other"
    tiny["train"]["lr"] = -1
    write_yaml(tmp_path / "neg.yaml", tiny)
    with pytest.raises(SpecError) as exc:
        load_all(tmp_path)
    assert sorted(i.file.rsplit("/", 1)[1] for i in exc.value.issues) == ["empty.yaml", "neg.yaml"]


# ---- names that could escape results/ -----------------------------------------------------------------

@pytest.mark.parametrize("hyp_id", ["../escape", "/etc/passwd", "a/b", "..", ".", "a\\b", "~root", "UPPER", "x" * 65,
                                    "", "a b", "a\nb"])
def test_ids_that_are_not_safe_folder_names_are_refused(tmp_path, tiny, hyp_id):
    tiny["id"] = hyp_id
    path = write_yaml(tmp_path / "h.yaml", tiny)
    issues = assert_one(path, "id", "must be", None)
    assert issues[0].line == 1


@pytest.mark.parametrize("name", ["../up", "a/b", "/abs", "..", "A", "-x"])
def test_condition_names_that_are_not_safe_are_refused(tmp_path, tiny, name):
    tiny["conditions"] = {name: {"train.lr": 0.1}}
    assert_one(write_yaml(tmp_path / "h.yaml", tiny), f"conditions.{name}", "must be a slug", None)


@pytest.mark.parametrize("sweep, fragment", [
    ({"task.params.op": ["/", "+"]}, "condition name 'op=/' is not a safe name"),
    ({"model.params.activation": ["../../x"]}, "is not a safe name"),
])
def test_sweep_values_that_would_make_unsafe_condition_names(tmp_path, tiny, sweep, fragment):
    tiny["sweep"] = sweep
    issues = issues_of(write_yaml(tmp_path / "h.yaml", tiny))
    assert any(fragment in i.message for i in issues), [str(i) for i in issues]


@pytest.mark.parametrize("path", ["../x", "/abs", "title", "results.x"])
def test_sweep_paths_outside_the_run_spec_are_refused(tmp_path, tiny, path):
    tiny["sweep"] = {path: [1, 2]}
    assert_one(write_yaml(tmp_path / "h.yaml", tiny), f"sweep.{path}", "can only sweep fields of", None)


# ---- references to unknown components and conditions --------------------------------------------------

@pytest.mark.parametrize("edit, field, fragment", [
    (lambda d: d["task"].update(name="sparse_parityy"), "task", "unknown name 'sparse_parityy'; known:"),
    (lambda d: d["model"].update(name="transformerr"), "model", "unknown name 'transformerr'; known:"),
    (lambda d: d["train"].update(optimizer={"name": "lion"}), "train.optimizer", "unknown name 'lion'"),
    (lambda d: d.update(observables=["loss", "hessian_top"]), "observables.1", "unknown name 'hessian_top'"),
    (lambda d: d.update(observables=[{"every": 5}]), "observables.0", "needs a name"),
    (lambda d: d["predictions"][0].update(kind="bayes"), "predictions.0.kind", "unknown kind 'bayes'"),
    (lambda d: d["predictions"][0].update(reduce="median"), "predictions.0.reduce", "unknown name 'median'"),
    (lambda d: d["predictions"][0].update(condition="nope"), "predictions.0", "unknown condition 'nope'; defined: default"),
])
def test_references_to_unknown_names(tmp_path, tiny, edit, field, fragment):
    edit(tiny)
    assert_one(write_yaml(tmp_path / "h.yaml", tiny), field, fragment, None)


def test_a_compare_prediction_naming_an_unknown_condition(tmp_path, tiny):
    tiny["conditions"] = {"a": {"train.lr": 0.1}, "b": {"train.lr": 0.01}}
    tiny["predictions"] = [{"id": "p", "kind": "compare", "conditions": ["a", "c"], "metric": "train_loss",
                            "reduce": "final", "direction": "less"}]
    path = write_yaml(tmp_path / "h.yaml", tiny)
    assert_one(path, "predictions.0", "unknown condition 'c'; defined: a, b", "- id: p")


def test_an_override_naming_an_unknown_component(tmp_path, tiny):
    tiny["conditions"] = {"c": {"train.optimizer": "lion"}}
    tiny["predictions"][0]["condition"] = "c"
    assert_one(write_yaml(tmp_path / "h.yaml", tiny), "conditions.c: train.optimizer", "unknown name 'lion'",
               "train.optimizer: lion")


# ---- a prediction on a metric that is never logged ----------------------------------------------------

def test_a_metric_logged_in_one_condition_but_not_the_other(tmp_path, tiny):
    tiny["conditions"] = {"a": {}, "b": {"observables": ["loss"]}}
    tiny["predictions"] = [{"id": "p", "kind": "compare", "conditions": ["a", "b"], "metric": "val_acc",
                            "reduce": "final", "direction": "greater"}]
    path = write_yaml(tmp_path / "h.yaml", tiny)
    [issue] = issues_of(path)
    assert issue.field == "predictions.0.metric" and issue.line == line_of(path, "metric: val_acc")
    assert issue.message == "metric 'val_acc' is never logged or probed in condition 'b'; available: train_loss, val_loss"


# ---- every error carries file, line and field ---------------------------------------------------------

def test_a_file_with_many_mistakes_lists_them_all_each_with_a_line(tmp_path):
    path = write_yaml(tmp_path / "h.yaml", dedent("""
        id: Bad/Id
        title: t
        statement: s
        task: {name: modular_arithmetic, params: {p: 1}}
        model: {name: mlp, params: {widht: 3}}
        train: {lr: -1, steps: 10, eval_every: 5}
        seeds: 0
        observables: [loss]
        predictions:
          - {id: p, kind: threshold, condition: default, metric: val_acc, reduce: final, threshold: 0.5,
             direction: greater}
    """))
    issues = issues_of(path)
    got = {(i.line, i.field) for i in issues}
    assert {(1, "id"), (4, "task.params.p"), (5, "model.params.widht"), (6, "train.lr"), (7, "seeds")} <= got, got
    assert all(i.file == str(path) and i.line >= 1 and i.field for i in issues)


def test_a_seed_or_a_sweep_value_listed_twice_is_an_error_not_a_repeated_run(tmp_path, tiny):
    """seeds [0, 0, 1, 1] would train seed 0 twice and count its rows twice in every reduction."""
    tiny["seeds"] = [0, 0, 1, 1]
    path = write_yaml(tmp_path / "h.yaml", tiny)
    with pytest.raises(SpecError) as exc:
        load_hypothesis(path)
    assert "seeds: seed(s) [0, 1] listed more than once" in str(exc.value) and f"{path}:" in str(exc.value)

    tiny["seeds"] = 3
    tiny["sweep"] = {"train.lr": [0.01, 0.02, 0.01]}
    with pytest.raises(SpecError, match=r"sweep: train.lr: value\(s\) \[0.01\] listed more than once"):
        load_hypothesis(write_yaml(tmp_path / "h.yaml", tiny))


# ---------------------------------------------------------------- identical conditions share one run

def test_identical_conditions_are_one_run_and_are_warned_about_naming_both(tmp_path, tiny, capsys):
    from refute import cli
    from refute.spec.loader import condition_warnings

    tiny["conditions"] = {"a": {"train.lr": 0.01}, "b": {}}  # 0.01 is the base lr: a and b are the same spec
    tiny["predictions"] = [{"id": "p", "kind": "compare", "conditions": ["a", "b"], "metric": "val_acc",
                            "reduce": "final", "direction": "greater"}]
    path = write_yaml(tmp_path / "hypotheses" / "h.yaml", tiny)
    hyp = load_hypothesis(path)
    assert hyp.runs["a"] == hyp.runs["b"]
    [warning] = condition_warnings(hyp)
    assert (warning.line, warning.field) == (line_of(path, "  b:"), "conditions.b")
    assert "conditions 'a' and 'b' have identical run specs" in warning.message
    assert "conditions: {b: {seeds: [3, 4, 5]}}" in warning.message
    assert cli.main(["check", "--hypotheses", str(tmp_path / "hypotheses")]) == 0  # a warning, not an error
    assert f"warning: {path}:{warning.line}: conditions.b: conditions 'a' and 'b'" in capsys.readouterr().err

    # Its own seeds make b an independent replicate: another run, and no warning.
    tiny["conditions"]["b"] = {"seeds": [3, 4, 5]}
    hyp = load_hypothesis(write_yaml(path, tiny))
    assert hyp.runs["a"] != hyp.runs["b"] and hyp.conditions["b"].seeds == [3, 4, 5]
    assert condition_warnings(hyp) == []
