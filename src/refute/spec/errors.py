"""Validation errors that name the file, the line and the field, in words a researcher can act on."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Iterable, Union, get_args, get_origin

import yaml
from pydantic import BaseModel


@dataclass(frozen=True)
class SpecIssue:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class SpecError(ValueError):
    """One or more problems in hypothesis files, each with file, line and field."""

    def __init__(self, issues: Iterable[SpecIssue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class LineMap:
    """Finds the line of any field in a YAML document from its composed node tree."""

    def __init__(self, text: str):
        try:
            self._root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            self._root = None

    def line(self, path: Iterable[Any]) -> int:
        return self._find(path)[0]

    def written(self, path: list) -> str | None:
        """The text as written of the value at `path` (of the key itself when the path ends in a key YAML
        did not read as text, e.g. a condition named `no`); None where there is no such scalar."""
        _, node, key = self._find(path)
        target = key if path and not isinstance(path[-1], str) and key is not None else node
        return target.value if isinstance(target, yaml.ScalarNode) else None

    def _find(self, path: Iterable[Any]) -> tuple[int, Any, Any]:
        """(line, value node, key node) of the field at `path`, as far as the document has it."""
        node, key_node = self._root, None
        if node is None:
            return 1, None, None
        line = node.start_mark.line + 1
        for key in path:
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if _same_key(k, key):
                        line, node, key_node = k.start_mark.line + 1, v, k
                        break
                else:
                    return line, None, None
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
                node, key_node = node.value[key], None
                line = node.start_mark.line + 1
            else:
                return line, None, None
        return line, node, key_node


def _same_key(node: Any, key: Any) -> bool:
    """Whether a mapping's key node is `key` of the parsed data (a key YAML read as a boolean, number or
    null is found by its value: `no` is False)."""
    if node.value == str(key):
        return True
    if isinstance(key, str) or not isinstance(node, yaml.ScalarNode) or node.tag.endswith(":str"):
        return False
    try:
        value = yaml.safe_load(node.value)
    except yaml.YAMLError:
        return False
    return value == key and type(value) is type(key)


def data_path(data: Any, loc: tuple) -> list:
    """The part of a pydantic error location that exists in the user's data.

    Pydantic adds union tags and validator names to locations; walking the data drops them, so
    `('train', 'schedule', 'cosine', 'warmup_steps')` becomes `['train', 'schedule', 'warmup_steps']`.
    """
    path, node = [], data
    for i, key in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and key not in node and not last and key in (node.get("name"), node.get("kind")):
            continue  # a union tag (the value of the node's own name or kind), not a field
        if isinstance(node, dict) and key in node:
            # pydantic reports a key YAML read as a boolean as 0 or 1: name the data's own key (False, not 0)
            key = next((k for k in node if k == key and type(k) is type(key)), next(k for k in node if k == key))
            path.append(key)
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            path.append(key)
            node = node[key]
        elif isinstance(node, dict) and isinstance(key, str) and not _internal(key):
            path.append(key)  # a missing or unknown key: still part of the field's name
            node = None
    return path


def error_path(data: Any, err: dict) -> list:
    """Where in the user's data a pydantic error points; an unknown component name points at its `name`."""
    path = data_path(data, err["loc"])
    if err["type"] == "union_tag_invalid":
        node = data
        for key in path:
            node = node[key]
        for tag in ("name", "kind"):
            if isinstance(node, dict) and tag in node:
                return [*path, tag]
    return path


def _internal(key: str) -> bool:
    # Pydantic's own labels in a location: union members, validator kinds.
    return "[" in key or key in ("function-after", "function-before", "function-wrap")


def allowed_fields(model: Any, data: Any, path: list) -> list[str]:
    """The field names the schema allows at `path` in `data` (for 'did you mean' hints). Components
    are resolved through their registries by the name the data gives them."""
    from refute.registry import ComponentRef, Registry

    t, node = model, data
    for key in path:
        t = _model_of(_unwrap(t, None), node)
        if isinstance(t, type) and issubclass(t, BaseModel):
            if issubclass(t, ComponentRef) and key == "params" and isinstance(node, dict) and node.get("name") in t.registry:
                t = t.registry.get(node["name"]).params
            else:
                info = t.model_fields.get(key) if isinstance(key, str) else None
                t = info.annotation if info else None
        elif get_origin(t) in (list, tuple) and isinstance(key, int):
            t = get_args(t)[0]
        elif get_origin(t) is dict:
            t = get_args(t)[1]
        else:
            return []
        node = node.get(key) if isinstance(node, dict) else node[key] if isinstance(node, list) and \
            isinstance(key, int) and key < len(node) else None
    t = _model_of(_unwrap(t, None), node)
    return list(t.model_fields) if isinstance(t, type) and issubclass(t, BaseModel) else []


def _model_of(t: Any, node: Any) -> Any:
    """A flat component's own parameter class, found by the name (or kind) the data gives it."""
    from refute.registry import Registry

    if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(node, dict):
        registry = Registry.flat_registries.get(t)
        if registry is not None:
            name = node.get(registry.key)
            if name in registry:
                return registry.get(name).params
    return t


def _unwrap(t: Any, tag: Any) -> Any:
    """Strip Annotated and pick the union member tagged `tag` (or the only model member)."""
    while True:
        if get_origin(t) is Annotated:
            t = get_args(t)[0]
        elif get_origin(t) in (Union, UnionType):
            members = get_args(t)
            tagged = [m for m in members if any(getattr(a, "tag", None) == tag for a in getattr(m, "__metadata__", ()))]
            models = [m for m in members if isinstance(_strip(m), type) and issubclass(_strip(m), BaseModel)]
            t = tagged[0] if tagged else (models[0] if len(models) == 1 else None)
        elif getattr(t, "__origin__", None) is not None and get_origin(t) is None:
            t = t.__origin__
        else:
            return t


def _strip(t: Any) -> Any:
    return get_args(t)[0] if get_origin(t) is Annotated else t


def dotted(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path)


def owner(data: Any, path: list, top: str = "a hypothesis") -> str:
    """What holds the fields at `path` of `data`, in words for an error: a component's name, else the path."""
    node, parent = data, None
    for key in path:
        parent = node
        node = node.get(key) if isinstance(node, dict) else node[key] if isinstance(node, list) and \
            isinstance(key, int) and 0 <= key < len(node) else None
    if path and path[-1] == "params" and isinstance(parent, dict) and isinstance(parent.get("name"), str):
        return parent["name"]
    for tag in ("name", "kind"):
        if isinstance(node, dict) and isinstance(node.get(tag), str):
            return node[tag]
    return dotted(path) if path else top


def yaml_type_hint(value: Any, written: str | None) -> str | None:
    """Why a name or id is not text when YAML read it as a boolean, a number or null, and the fix."""
    if isinstance(value, bool):
        what = "a boolean"
    elif isinstance(value, (int, float)):
        what = "a number"
    elif value is None:
        what = "null (no value)"
    else:
        return None
    text = written if written else str(value).lower()
    return f"must be a valid string; YAML reads {text or 'an empty value'} as {what}: quote it ('{text}')"


def humanize(err: dict, allowed: list[str] | None = None, where: str = "", written: str | None = None) -> str:
    """Turn a pydantic error into a short instruction. For an unknown field, `allowed` lists the valid ones of
    `where` (what holds them); `written` is the value's text as written (for type errors YAML caused)."""
    t, ctx, msg = err["type"], err.get("ctx", {}), err["msg"]
    if t == "string_type" and (hint := yaml_type_hint(err.get("input"), written)):
        return hint
    for kind, op in (("greater_than", ">"), ("greater_than_equal", ">="), ("less_than", "<"), ("less_than_equal", "<=")):
        if t == kind:
            bound = next(iter(ctx.values()))
            return f"must be {op} {bound:g}" if isinstance(bound, (int, float)) else f"must be {op} {bound}"
    if t == "literal_error" and err["loc"] and err["loc"][-1] in ("name", "kind"):
        return f"unknown {err['loc'][-1]} {err.get('input')!r}; known: {ctx.get('expected')}"
    if t == "missing":
        return "required field is missing"
    if t == "extra_forbidden":
        field = str(err["loc"][-1])
        hint = difflib.get_close_matches(field, allowed or [], n=1)
        takes = f"; {where or 'it'} takes {', '.join(allowed)}" if allowed else ""
        return "unknown field" + (f" (did you mean {hint[0]!r}?)" if hint else "") + takes
    if t in ("union_tag_invalid", "union_tag_not_found"):
        expected = ctx.get("expected_tags", "")
        if t == "union_tag_not_found":
            return f"needs a name (one of: {expected})" if expected else "needs a name"
        return f"unknown name {ctx.get('tag')!r}; known: {expected}"
    if t == "string_pattern_mismatch":
        return f"must be a slug matching {ctx.get('pattern')} (lower-case letters, digits, '-' and '_')"
    if t == "too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    msg = msg.replace("Value error, ", "").replace("Input should be", "must be")
    return msg[0].lower() + msg[1:] if msg else t
