"""Named, pluggable components, each kind with an explicit contract.

A component is a class registered under a name with a pydantic class for its parameters:

    @TASKS.register("sparse_parity", SparseParityParams)
    class SparseParity(Task):
        def info(self, p): ...
        def build(self, p): ...

Hypothesis files select components by name; the spec validates their parameters with that class.
Each kind has a contract (an abstract base class: `Task`, `Model`, `Observable`, ...); registering a
class that does not implement it (a missing method, a method with the wrong parameters, parameters
that are not a `Params` class, a name taken) fails when its module is imported, with the module's file
and line, so a broken component stops everything before any job runs. Each kind's package imports all
of its modules on first use, so adding a component means adding a module: nothing in the core changes.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import pkgutil
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (BaseModel, ConfigDict, Field, SerializeAsAny, ValidationInfo, WrapValidator,
                      field_validator, model_serializer, model_validator)

# Names a hypothesis gives things (ids of hypotheses, predictions, probes, alternatives): safe as folder names.
SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class Params(BaseModel):
    """Base for every spec type and component parameters: unknown keys are errors, never silently
    ignored; values are immutable and finite; a boolean is never read as a number (`steps: true` is not 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            # Only where pydantic would take a boolean for a number; elsewhere (text) its own type error stands.
            wrong = [k for k, v in data.items() if k in cls.model_fields and not _admits_bool(cls.model_fields[k].annotation)
                     and _admits_number(cls.model_fields[k].annotation)
                     and any(isinstance(x, bool) for x in (v if isinstance(v, (list, tuple)) else [v]))]
            if wrong:
                from pydantic import ValidationError
                from pydantic_core import InitErrorDetails, PydanticCustomError

                err = PydanticCustomError("bool_as_number", "must be a number, not true/false")
                raise ValidationError.from_exception_data(
                    cls.__name__, [InitErrorDetails(type=err, loc=(k,), input=data[k]) for k in wrong])
        return data

    @model_validator(mode="before")
    @classmethod
    def _only_where_read(cls, data: Any) -> Any:
        # A field marked `only_with` (below) and set where its mode ignores it would be shown in the report
        # as if it mattered: refused, at the field.
        if not isinstance(data, dict):
            return data
        problems = []
        for name, f in cls.model_fields.items():
            rule = f.json_schema_extra.get("only_with") if isinstance(f.json_schema_extra, dict) else None
            if not rule or data.get(name) is None:
                continue
            for mode, allowed in rule.items():
                value = data.get(mode, cls.model_fields[mode].default)
                if value not in allowed:
                    problems.append((name, f"is read only with {mode}: {' or '.join(allowed)} (here {mode}: "
                                           f"{value}), where it would change nothing; remove it"))
        if problems:
            from pydantic import ValidationError
            from pydantic_core import InitErrorDetails, PydanticCustomError

            raise ValidationError.from_exception_data(cls.__name__, [
                InitErrorDetails(type=PydanticCustomError("ignored_parameter", message), loc=(k,), input=data[k])
                for k, message in problems])
        return data


def only_with(**modes: str | tuple[str, ...]) -> dict:
    """Field metadata (`Field(json_schema_extra=only_with(between="sites"))`): the parameter is read only when
    each named field has one of the given values; set under any other value, it is an error at validation."""
    return {"only_with": {k: (v,) if isinstance(v, str) else tuple(v) for k, v in modes.items()}}


def _admits_bool(annotation: Any) -> bool:
    """Whether a field's type lets a boolean through as itself (bool, Any, or a union or container holding one)."""
    from typing import get_args

    if annotation is bool or annotation is Any:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True  # a nested model validates its own fields
    return any(_admits_bool(a) for a in get_args(annotation))


def _admits_number(annotation: Any) -> bool:
    """Whether a field's type takes an int or a float (which lax validation would read true/false as)."""
    from typing import get_args

    if annotation in (int, float):
        return True
    return any(_admits_number(a) for a in get_args(annotation))


class ComponentError(TypeError):
    """A component that does not meet its kind's contract; the message names its file and line."""


T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    params: type[Params]
    impl: T  # an instance of the component's class (prediction kinds: the class itself)
    help: str
    origin: Any  # the class (or function) registered
    digest: str | None = None  # a user component's source digest (built-ins: None); see `source_digest`

    @property
    def builtin(self) -> bool:
        return self.digest is None

    @cached_property
    def source(self) -> str:
        """file:line of the component's class, for error messages: found when asked, since finding a class's
        line parses its module (~20 ms a component, paid by every job at start-up if done when registered)."""
        return where(self.origin)


def builtin(impl: Any) -> bool:
    """Whether a component is the package's own (defined in a module of refute)."""
    return (getattr(impl, "__module__", "") or "").split(".")[0] == "refute"


def source_digest(impl: Any) -> str | None:
    """What a component's numbers follow from besides its parameters: its source. None for the package's
    own components (their changes are versioned: TRAINER_VERSION, PROBE_VERSION), else a hash of the
    module defining it and of the helper modules its loader says it shares (`__refute_shared__` on its
    package: the `_*.py` files of a components folder)."""
    if builtin(impl):
        return None
    module = getattr(impl, "__module__", "") or ""
    h = hashlib.sha256()
    file = getattr(sys.modules.get(module), "__file__", None)
    try:
        h.update(open(file, "rb").read() if file else module.encode())
    except OSError:
        h.update(module.encode())
    h.update(getattr(sys.modules.get(module.rpartition(".")[0]), "__refute_shared__", "").encode())
    return h.hexdigest()[:16]


def where(obj: Any) -> str:
    """file:line of a class or function."""
    try:
        return f"{inspect.getsourcefile(obj)}:{inspect.getsourcelines(obj)[1]}"
    except (OSError, TypeError):
        return getattr(obj, "__module__", "?")


def check_contract(contract: type, cls: type, kind: str, name: str) -> None:
    """Raise ComponentError unless `cls` implements every method of `contract` with the contract's parameters."""
    if not (isinstance(cls, type) and issubclass(cls, contract)):
        raise ComponentError(f"{where(cls)}: {kind} {name!r} must be a class deriving from {contract.__module__}."
                             f"{contract.__qualname__}")
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    missing += sorted(n for n in _class_vars(contract) if not hasattr(cls, n))
    if missing:
        raise ComponentError(f"{where(cls)}: {kind} {name!r} does not implement {', '.join(missing)} "
                             f"(required by {contract.__qualname__})")
    for attr, spec in vars(contract).items():
        if not getattr(spec, "__isabstractmethod__", False):
            continue
        want = _arity(spec)
        got = _arity(getattr(cls, attr))
        if len(want) != len(got):
            raise ComponentError(f"{where(getattr(cls, attr))}: {kind} {name!r}: {attr}() takes "
                                 f"{', '.join(got) or 'nothing'}; the contract is {attr}({', '.join(want)})")


def _class_vars(contract: type) -> list[str]:
    # ClassVars the contract declares without a value: each component must set them.
    return [n for k in contract.__mro__ for n, a in vars(k).get("__annotations__", {}).items()
            if "ClassVar" in str(a) and not hasattr(contract, n)]


def _arity(fn: Any) -> list[str]:
    # Positional parameters after self/cls; names may differ, the count may not.
    fn = inspect.unwrap(getattr(fn, "__func__", fn))
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    names = [p.name for p in params]
    return names[1:] if names and names[0] in ("self", "cls") else names


class Registry(Generic[T]):
    """The components of one kind, by name, checked against the kind's `contract` when registered."""

    # Base parameter class -> its registry, for kinds written flat ({name, ...params}); see `flat`.
    flat_registries: ClassVar[dict[type, "Registry"]] = {}
    key: str = "name"  # the field that names the component in a flat reference

    def __init__(self, kind: str, package: str, contract: type | None = None, params_base: type[Params] = Params,
                 instantiate: bool = True):
        self.kind = kind
        self.contract = contract
        self.params_base = params_base
        self._package = package
        self._instantiate = instantiate
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = False

    def register(self, name: str, params: type[Params] | None = None, help: str = ""):
        """Decorator: register the class (or, for kinds without a contract, function) under `name`."""

        def deco(impl):
            if not builtin(impl):
                self._load()  # the built-ins first: a user name that clashes is the one reported
            if name in self._entries:
                taken = self._entries[name]
                by = "a built-in" if taken.builtin else "another component"
                raise ComponentError(f"{where(impl)}: {self.kind} {name!r} is already taken by {by} ({taken.source}): "
                                     "choose another name")
            p = params if params is not None else impl
            if not (isinstance(p, type) and issubclass(p, self.params_base)):
                raise ComponentError(f"{where(impl)}: {self.kind} {name!r}: its parameters must be a class deriving from "
                                     f"{self.params_base.__module__}.{self.params_base.__qualname__}")
            if self.contract is not None:
                check_contract(self.contract, impl, self.kind, name)
            obj = impl() if self.contract is not None and self._instantiate else impl
            doc = help or next(iter((impl.__doc__ or "").strip().splitlines()), "")
            self._entries[name] = Entry(name, p, obj, doc, impl, source_digest(impl))
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

    def get(self, name: str) -> Entry[T]:
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}") from None

    def entries(self) -> list[Entry[T]]:
        self._load()
        return [self._entries[n] for n in sorted(self._entries)]


def user_code(obj: Any) -> dict[str, str]:
    """Every user component a spec value names (a run spec, a hypothesis, anything holding component
    references), as {"<kind>:<name>": source digest}; built-ins are left out, so a spec of built-ins gives {}."""
    found: dict[str, str] = {}

    def visit(value: Any) -> None:
        if isinstance(value, BaseModel):
            entry = None
            if isinstance(value, ComponentRef) and value.name in value.registry:
                entry, kind = value.registry.get(value.name), value.registry.kind
            for base, registry in Registry.flat_registries.items():
                name = getattr(value, registry.key, None)
                if isinstance(value, base) and isinstance(name, str) and name in registry:
                    entry, kind = registry.get(name), registry.kind
            if entry is not None and entry.digest is not None:
                found[f"{kind}:{entry.name}"] = entry.digest
            for field in type(value).model_fields:
                visit(getattr(value, field))
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)

    visit(obj)
    return dict(sorted(found.items()))


# --- references to components in a spec ---------------------------------------------------------------------
# A spec names a component and gives its parameters in one of two shapes:
#   nested: {name: mlp, params: {width: 64}}  (tasks, models, optimizers), a subclass of ComponentRef;
#   flat:   {name: sharpness, every: 50}      (observables, probes, reductions; prediction kinds by `kind`),
#           the registered parameter class itself, which carries the name.
# Both accept the bare name as shorthand and validate the parameters with the class the component registered,
# so errors point into the parameters (task.params.p) and a new component needs no change here.


def _expand(value: Any, key: str = "name") -> Any:
    return {key: value} if isinstance(value, str) else value


def unknown_name(registry: Registry, key: str, value: Any, loc: tuple = ()) -> Exception:
    from pydantic import ValidationError
    from pydantic_core import InitErrorDetails, PydanticCustomError

    known = ", ".join(repr(n) for n in registry.names())
    if value is None:
        err = PydanticCustomError("missing_component", f"needs a {key} (one of: {known})")
    else:
        err = PydanticCustomError("unknown_component", f"unknown {key} {value!r}; known: {known}")
    return ValidationError.from_exception_data(registry.kind, [InitErrorDetails(type=err, loc=loc, input=value)])


class ComponentRef(Params):
    """A component chosen by name, with its parameters validated by the class it registered.
    Subclasses set `registry` (a ClassVar) to the kind's registry."""

    name: str
    params: SerializeAsAny[Params] = Field(default_factory=dict, validate_default=True)
    registry: ClassVar[Registry]

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _expand(value)

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in cls.registry:
            raise unknown_name(cls.registry, "name", value)
        return value

    @model_serializer(mode="wrap")
    def _dump(self, handler, info):
        data = handler(self)
        # Parameters all at their defaults are the default: left out when defaults are (pre-registration).
        if info.exclude_defaults and data.get("params") == {}:
            data.pop("params")
        return data

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.data.get("name")
        if name not in cls.registry:
            return Params()  # the unknown name is the error; its parameters cannot be checked
        schema = cls.registry.get(name).params
        if isinstance(value, schema):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump()
        return schema.model_validate({} if value is None else value)



def flat(registry: Registry, key: str = "name") -> Any:
    """The annotated type of a flat component reference: `{<key>: <registered name>, ...its parameters}`."""

    registry.key = key
    Registry.flat_registries[registry.params_base] = registry

    def dispatch(value: Any, handler) -> Any:
        value = _expand(value, key)
        if isinstance(value, registry.params_base):
            name = getattr(value, key)
            if name in registry and isinstance(value, registry.get(name).params):
                return value
            value = value.model_dump()
        if not isinstance(value, dict):
            return handler(value)  # the base class reports the type error
        name = value.get(key)
        if not isinstance(name, str) or name not in registry:
            raise unknown_name(registry, key, name, (key,) if name is not None else ())
        return registry.get(name).params.model_validate(value)

    return Annotated[SerializeAsAny[registry.params_base], WrapValidator(dispatch)]
