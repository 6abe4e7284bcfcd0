"""Dotted paths into plain data (`train.lr`, `model.params.width`, `task.params.singular_values.0`):
the one walker behind condition overrides, sweeps, divisors, trend axes and refinement drafts."""

from __future__ import annotations

from typing import Any

# Components written by name alone (`optimizer: adamw`) are expanded when a path reaches into them.
SHORTHAND = ("optimizer", "task", "model")


def get_dotted(data: Any, path: str) -> Any:
    """The value at `path` (KeyError when there is none; list items by index)."""
    node = data
    for key in path.split("."):
        if isinstance(node, list):
            try:
                node = node[int(key)]
            except (ValueError, IndexError):
                raise KeyError(path) from None
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise KeyError(path)
    return node


def set_dotted(data: dict, path: str, value: Any) -> None:
    """Set the value at `path`, creating mappings on the way (KeyError/IndexError/ValueError if it cannot)."""
    keys = path.split(".")
    node: Any = data
    for k in keys[:-1]:
        if isinstance(node, list):
            node = node[int(k)]
            continue
        if not isinstance(node, dict):
            raise KeyError(path)
        if isinstance(node.get(k), str) and k in SHORTHAND:
            node[k] = {"name": node[k]}  # `optimizer: adamw` expands so its params can be set
        node = node.setdefault(k, {})
    if isinstance(node, list):
        node[int(keys[-1])] = value
    elif isinstance(node, dict):
        node[keys[-1]] = value
    else:
        raise KeyError(path)
