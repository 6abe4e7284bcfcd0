"""Named, pluggable components: tasks, models, optimizers, observables, probes, reductions, prediction kinds.

A component is one module that registers itself under a name with a pydantic class for its
parameters. Hypothesis files select components by name; the spec validates their parameters with
that class. Adding a component means adding a module to the right package: each package imports
all of its modules on first use, so nothing in the core needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

class Params(BaseModel):
    """Base for component parameters: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@dataclass(frozen=True)
class Entry:
    name: str
    params: type[Params]
    impl: Any
    help: str


class Registry:
    def __init__(self, kind: str, package: str):
        self.kind = kind
        self._package = package
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(self, name: str, params: type[Params], help: str = ""):
        """Decorator: register `impl` (a function or class) under `name`."""

        def deco(impl):
            if name in self._entries:
                raise RuntimeError(f"{self.kind} {name!r} registered twice")
            doc = help or next(iter((impl.__doc__ or "").strip().splitlines()), "")
            self._entries[name] = Entry(name, params, impl, doc)
            return impl

        return deco

    def _load(self) -> None:
        # Import the module (or every module of the package) once, so each registers itself.
        if self._loaded:
            return
        self._loaded = True
        pkg = importlib.import_module(self._package)
        for mod in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
            if not mod.name.startswith("_"):
                importlib.import_module(f"{self._package}.{mod.name}")

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries

    def get(self, name: str) -> Entry:
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}") from None

    def entries(self) -> list[Entry]:
        self._load()
        return [self._entries[n] for n in sorted(self._entries)]


TASKS = Registry("task", "refute.components.tasks")
MODELS = Registry("model", "refute.components.models")
OPTIMIZERS = Registry("optimizer", "refute.components.optimizers")
OBSERVABLES = Registry("observable", "refute.components.observables")
REDUCTIONS = Registry("reduction", "refute.components.reductions")
PREDICTIONS = Registry("prediction kind", "refute.components.predictions")
PROBES = Registry("probe", "refute.components.probes")
