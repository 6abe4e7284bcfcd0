"""Property-based fuzzing of the loader: any input either loads or raises SpecError, never a traceback.

Four generators, from raw bytes to near-valid hypotheses: bytes, text, YAML-shaped token soup, and
random edits of a valid hypothesis (which reach deep into validation). Example counts are bounded so
the whole file runs in seconds; each failure hypothesis finds is shrunk to a small reproducer.
"""

import copy
import json
import os
import re
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TINY
from refute.spec.errors import SpecError
from refute.spec.loader import load_hypothesis

# FUZZ_N=5000 searches longer and at random (a one-off hunt); the default is a fixed, quick sample.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_N", 150)), deadline=None, derandomize="FUZZ_N" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")


def check(path: Path) -> None:
    """The property: a Hypothesis whose names stay inside results/, or a SpecError about this file."""
    try:
        h = load_hypothesis(path)
    except SpecError as err:
        assert err.issues and all(i.file == str(path) and i.line >= 0 for i in err.issues)
        assert all(str(i).startswith(str(path)) for i in err.issues)
        return
    results = (path.parent / "results").resolve()
    assert (results / h.id).resolve().parent == results
    for condition, run_hash in h.runs.items():
        assert SAFE_NAME.match(condition), condition
        assert re.fullmatch(r"[0-9a-f]{16}", run_hash)
        # Nothing that loads carries a NaN or an infinity into training.
        json.dumps(h.conditions[condition].model_dump(mode="json"), allow_nan=False)


def fuzz_file(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "fuzz.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes(tmp_path, raw):
    check(fuzz_file(tmp_path, raw))


@FUZZ
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300))
def test_any_text(tmp_path, text):
    check(fuzz_file(tmp_path, text))


KEYS = ["id", "title", "statement", "task", "model", "train", "seeds", "observables", "predictions", "conditions",
        "sweep", "name", "params", "lr", "steps", "eval_every", "batch_size", "optimizer", "kind", "metric", "reduce",
        "condition", "threshold", "direction", "p", "width", "train.lr", "model.params.width", "every", "alpha"]
VALUES = ["0", "-1", "1.0e-2", "1e-2", "3", "full", "null", "~", "true", ".nan", "-.inf", "'x'", '"a/b"', "../x",
          "modular_arithmetic", "mlp", "adamw", "threshold", "compare", "final", "greater", "train_acc", "[]", "{}",
          "99999999999999999999", "2024-01-01", "!!str 5", "!!binary aGk=", "!!set {a}", "&a", "*a", "*b", "<<"]
PUNCT = [": ", ":", "- ", "-", "[", "]", "{", "}", ", ", "\n", "\n  ", "\n    ", "\t", "#", "? ", "|", ">", "---\n",
         "...\n", "'", '"', "%YAML 1.1\n", "&x ", "*x"]
TOKENS = st.sampled_from(KEYS + VALUES + PUNCT)


@settings(FUZZ, max_examples=2 * FUZZ.max_examples)
@given(st.lists(TOKENS, max_size=60).map("".join))
def test_yaml_shaped_token_soup(tmp_path, text):
    check(fuzz_file(tmp_path, text))


# Values that YAML can write and a hypothesis field might meet: every scalar type, nesting, odd strings.
SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=12) | st.sampled_from(KEYS + ["adam", "sgd", "loss", "accuracy", "weight_norm", "val_acc",
                                                           "first_crossing", "mean_last", "welch", "t", "default"]))
VALUES_TREE = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
    st.text(max_size=8) | st.sampled_from(KEYS), kids, max_size=4), max_leaves=12)


def paths_of(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths_of(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths_of(v, (*prefix, i))


@st.composite
def edited_hypotheses(draw):
    """A valid hypothesis with a few random edits: replace, delete or add at any depth."""
    doc = copy.deepcopy(TINY)
    if draw(st.booleans()):
        doc["conditions"] = {"a": {"train.lr": 0.05}, "b": {"model.params.width": 16}}
        doc["predictions"][0]["condition"] = "a"
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in paths_of(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES_TREE)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS) | st.text(max_size=6))] = draw(VALUES_TREE)
        else:
            parent.append(draw(VALUES_TREE))
    return doc


@settings(FUZZ, max_examples=2 * FUZZ.max_examples)
@given(edited_hypotheses())
def test_random_edits_of_a_valid_hypothesis(tmp_path, doc):
    check(fuzz_file(tmp_path, yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)))
