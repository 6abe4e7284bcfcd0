"""The vocabulary of hypothesis files, described from the schema the loader validates with: every field of a
hypothesis, and every registered task, model, optimizer, observable, probe, reduction and prediction kind
(built-in or the project's own) with each parameter's type, default, allowed range and help.

`refute describe [KIND [NAME]]` prints it; `reference()` is docs/reference.md (built-ins only; a test keeps
the page current). Nothing here is written by hand, so the description cannot drift from what is accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from refute.components.events import EVENTS
from refute.components.models import MODELS
from refute.components.observables import OBSERVABLES
from refute.components.optimizers import OPTIMIZERS, Constant, Cosine, Warmup
from refute.components.predictions import PREDICTIONS
from refute.components.probes import PROBES
from refute.components.reductions import REDUCTIONS
from refute.components.tasks import TASKS
from refute.registry import ComponentRef, Entry, Registry
from refute.spec.schema import Alternative, Analysis, Compute, Hypothesis, RunSpec, Train

# Kind (as `refute describe` takes it) -> its registry, in the order a hypothesis file uses them.
KINDS: dict[str, Registry] = {"task": TASKS, "model": MODELS, "optimizer": OPTIMIZERS, "observable": OBSERVABLES,
                              "probe": PROBES, "reduction": REDUCTIONS, "prediction": PREDICTIONS,
                              "event": EVENTS}  # an exploration's event detectors (explorations/*.yaml)
# The parts of a hypothesis file that are not components: (heading, its class, fields left out).
SECTIONS: list[tuple[str, type[BaseModel], set[str]]] = [
    ("hypothesis file (top level)", Hypothesis, set()),
    ("train", Train, set()),
    ("train.schedule: constant", Constant, {"name"}),
    ("train.schedule: warmup", Warmup, {"name"}),
    ("train.schedule: cosine", Cosine, {"name"}),
    ("compute", Compute, set()),
    ("analysis", Analysis, set()),
    ("alternatives (each)", Alternative, set()),
]


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: str  # "required" when there is none
    range: str  # e.g. ">= 1, <= 4096"; "" when unbounded
    help: str


def parameters(model: type[BaseModel], skip: set[str] = frozenset()) -> list[Parameter]:
    """Each field of a Params class, as the loader validates it."""
    out = []
    for name, f in model.model_fields.items():
        if name in skip:
            continue
        out.append(Parameter(name, type_name(f.annotation), _default(f), _range(f.metadata), f.description or ""))
    return out


def own_parameters(kind: str, entry: Entry) -> list[Parameter]:
    """A component's parameters, less the fields every component of its kind shares (listed once per kind)."""
    registry = KINDS[kind]
    shared = {p.name: p for p in common_parameters(kind)}
    return [p for p in parameters(entry.params, {registry.key}) if shared.get(p.name) != p]


def common_parameters(kind: str) -> list[Parameter]:
    """The fields every component of a flat kind takes beside its own (probes: id, steps, conditions; ...)."""
    registry = KINDS[kind]
    if registry.params_base.__name__ == "Params":
        return []
    return parameters(registry.params_base, {registry.key})


def type_name(t: Any) -> str:
    """A field's type in the words of a hypothesis file."""
    origin, args = get_origin(t), get_args(t)
    if origin is Annotated:
        return type_name(args[0])
    if origin is Literal:
        return " | ".join(json.dumps(a) if not isinstance(a, str) else a for a in args)
    if origin in (Union, UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin in (list, tuple):
        inner = ", ".join(type_name(a) for a in args if a is not Ellipsis)
        return f"list[{inner}]"
    if origin is dict:
        return f"mapping {type_name(args[0])} → {type_name(args[1])}"
    if t is NoneType:
        return "null"
    if t is Any:
        return "any"
    if isinstance(t, type) and issubclass(t, ComponentRef):
        return f"{t.registry.kind} (a name or {{name, params}})"
    if isinstance(t, type) and t in Registry.flat_registries:
        reg = Registry.flat_registries[t]
        return f"{reg.kind} (a name or {{{reg.key}, ...}})"
    return {int: "integer", float: "number", str: "text", bool: "true | false"}.get(t, getattr(t, "__name__", str(t)))


def _default(f) -> str:
    if f.default is not PydanticUndefined:
        value = f.default
    elif f.default_factory is not None:
        try:
            value = f.default_factory()
        except TypeError:  # a factory that needs the other fields
            return "(computed)"
    else:
        return "required"
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_defaults=True)
    try:
        return json.dumps(value)
    except TypeError:
        return str(value)


def _range(metadata: list) -> str:
    bounds = []
    for m in metadata:
        for attr, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            if getattr(m, attr, None) is not None:
                bounds.append(f"{op} {getattr(m, attr):g}" if isinstance(getattr(m, attr), float)
                              else f"{op} {getattr(m, attr)}")
        if getattr(m, "min_length", None) is not None:
            bounds.append(f"at least {m.min_length} long")
        if getattr(m, "max_length", None) is not None:
            bounds.append(f"at most {m.max_length} long")
        if getattr(m, "pattern", None) is not None:
            bounds.append(f"matches {m.pattern}")
    return ", ".join(bounds)


def kind_of(word: str) -> str:
    """A kind as a person may type it (task, tasks, prediction kind, ...)."""
    key = word.strip().lower().removesuffix("s").removesuffix(" kind")
    if key not in KINDS:
        raise KeyError(f"unknown kind {word!r}; kinds: {', '.join(KINDS)}")
    return key


# ------------------------------------------------------------------------------------------- terminal text

def describe(kind: str | None = None, name: str | None = None) -> str:
    """`refute describe`: every kind's names (no kind), a kind's components with their parameters, or one."""
    if kind is None:
        lines = []
        for k, registry in KINDS.items():
            lines.append(f"{k}s:")
            lines += [f"  {e.name:<22} {e.help}{'' if e.builtin else '  [user: ' + e.source + ']'}"
                      for e in registry.entries()]
        lines.append("\nrefute describe KIND [NAME] for parameters; the hypothesis file's own fields: "
                     "refute describe hypothesis")
        return "\n".join(lines)
    if kind.strip().lower() in ("hypothesis", "hypotheses", "file"):
        return "\n\n".join(_text_block(title, parameters(model, skip)) for title, model, skip in SECTIONS)
    kind = kind_of(kind)
    registry = KINDS[kind]
    entries = [registry.get(name)] if name is not None else registry.entries()
    blocks = [_text_block(f"{kind} {e.name}: {e.help}" + ("" if e.builtin else f"\n  (user component, {e.source})"),
                          own_parameters(kind, e)) for e in entries]
    common = common_parameters(kind)
    if common and name is None:
        blocks.append(_text_block(f"every {kind} also takes", common))
    return "\n\n".join(blocks)


def _text_block(title: str, params: list[Parameter]) -> str:
    if not params:
        return f"{title}\n  (no parameters)"
    rows = [(p.name, p.type, "required" if p.default == "required" else f"default {p.default}", p.range, p.help)
            for p in params]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [title]
    for r in rows:
        head = "  ".join(c.ljust(w) for c, w in zip(r[:3], widths))
        lines.append(f"  {head}  {r[4]}" + (f" [{r[3]}]" if r[3] else ""))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- reference page

def reference() -> str:
    """docs/reference.md: the hypothesis file's fields and every built-in component, from the schema."""
    out = ["# Reference: the vocabulary of hypothesis files", "",
           "Generated from the schema the loader validates with (`refute describe` prints the same, with the "
           "project's own components); do not edit by hand: `tests/test_vocabulary.py` regenerates it and "
           "fails when it differs. Regenerate with",
           "`python -c 'from refute.spec.vocabulary import reference; print(reference(), end=\"\")' > docs/reference.md`.",
           "", "Contents: " + ", ".join(f"[{t}](#{_anchor(t)})" for t in ["The hypothesis file", *(f"{k}s" for k in KINDS)]),
           "", "## The hypothesis file", ""]
    for title, model, skip in SECTIONS:
        out += [f"### {title}", "", *_table(parameters(model, skip)), ""]
    for kind, registry in KINDS.items():
        out += [f"## {kind}s", ""]
        common = common_parameters(kind)
        if common:
            out += [f"Every {kind} takes `{registry.key}` (which one) and:", "", *_table(common), ""]
        for e in registry.entries():
            if not e.builtin:
                continue
            out += [f"### `{e.name}`", "", f"{e.help}." if e.help and not e.help.endswith(".") else e.help, ""]
            own = own_parameters(kind, e)
            out += [*_table(own), ""] if own else ["No parameters of its own.", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _anchor(title: str) -> str:
    return title.lower().replace(" ", "-")


def _table(params: list[Parameter]) -> list[str]:
    cell = lambda s: s.replace("|", "\\|").replace("\n", " ")  # noqa: E731
    rows = ["| parameter | type | default | range | description |", "|---|---|---|---|---|"]
    rows += [f"| `{p.name}` | {cell(p.type)} | {'**required**' if p.default == 'required' else f'`{cell(p.default)}`'} "
             f"| {cell(p.range)} | {cell(p.help)} |" for p in params]
    return rows
