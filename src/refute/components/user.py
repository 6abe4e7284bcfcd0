"""User components: a project's own tasks, models, observables, probes, reductions and prediction kinds,
loaded from a folder beside its hypotheses and from installed packages, without editing refute.

- A components folder (default: `components/` beside the hypotheses folder): every `*.py` in it not starting
  with `_` is imported, as a module of one package, so a component module may import shared helpers
  relatively (`from ._common import f`). Helpers (`_*.py`) count as part of every component's source.
- Installed packages: every module named in the `refute` entry-point group is imported.

Each registers its components as the package's own do (`@TASKS.register(...)` on a class deriving from the
kind's contract), and is checked the same way. Anything wrong (a syntax or import error, a contract not
met, a name taken by a built-in) is reported as `file:line: message` before any hypothesis is validated.
Only these modules run: hypothesis files stay data.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
import types
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from refute.registry import ComponentError

FOLDER = "components"  # beside the hypotheses folder
ENV = "REFUTE_COMPONENTS"  # a components folder given to a process (the workflow sets it for every job)
GROUP = "refute"  # the entry-point group of installed component packages


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class UserComponentError(ValueError):
    """One or more user component modules that cannot be loaded, each with file and line."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(map(str, self.problems)))


# Folders (resolved) and entry points already imported in this process, with what went wrong: asked again,
# a process gets the same answer, never a half-loaded vocabulary.
_loaded: dict[str, list[Problem]] = {}


def folder_for(hypotheses: str | Path = "hypotheses", override: str | Path | None = None) -> Path:
    """The components folder of a project: `override` if given, else $REFUTE_COMPONENTS, else `components/`
    beside the hypotheses folder."""
    if override:
        return Path(override)
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    return Path(hypotheses).parent / FOLDER


def load_components(folder: str | Path | None = None) -> list[str]:
    """Import the user components of `folder` (when it exists) and of installed packages, once per process.
    Returns the modules imported now; raises UserComponentError listing every problem."""
    problems: list[Problem] = []
    done: list[str] = []
    if folder is not None and Path(folder).is_dir():
        done += _load_folder(Path(folder).resolve(), problems)
    done += _load_entry_points(problems)
    if problems:
        raise UserComponentError(problems)
    return done


def _load_folder(folder: Path, problems: list[Problem]) -> list[str]:
    if str(folder) in _loaded:
        problems += _loaded[str(folder)]
        return []
    mine = _loaded[str(folder)] = []
    modules = sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))
    helpers = sorted(p for p in folder.glob("_*.py") if p.name != "__init__.py")
    # One package per folder, named by its path, so two projects' modules never meet in sys.modules.
    package = "refute_user_" + hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    pkg = types.ModuleType(package, f"user components in {folder}")
    pkg.__path__ = [str(folder)]
    pkg.__refute_shared__ = "".join(f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()};" for p in helpers)
    sys.modules[package] = pkg
    done = []
    for path in modules:
        name = f"{package}.{path.stem}"
        if not path.stem.isidentifier():
            mine.append(Problem(str(path), 0, "a component module's name must be a Python identifier "
                                              "(letters, digits, '_'), e.g. noisy_xor.py"))
            continue
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            done.append(name)
        except Exception as err:  # noqa: BLE001 — any failure of user code is reported, not raised
            sys.modules.pop(name, None)
            mine.append(_problem(err, path))
    problems += mine
    return done


def _load_entry_points(problems: list[Problem]) -> list[str]:
    done = []
    for ep in entry_points(group=GROUP):
        key = f"entry point {ep.name} = {ep.value}"
        if key in _loaded:
            problems += _loaded[key]
            continue
        mine = _loaded[key] = []
        try:
            ep.load()
            done.append(ep.value)
        except Exception as err:  # noqa: BLE001
            where = _problem(err, None)
            dist = getattr(ep, "dist", None)
            origin = f"{key} (package {dist.name})" if dist is not None else key
            mine.append(Problem(where.file if where.line else origin, where.line,
                                where.message if where.line else f"{origin}: {where.message}"))
        problems += mine
    return done


def _problem(err: BaseException, path: Path | None) -> Problem:
    """file:line and a message for an exception raised while importing a user module."""
    if isinstance(err, ComponentError):  # its message starts with the component's file:line
        at, _, message = str(err).partition(": ")
        file, _, line = at.rpartition(":")
        return Problem(file, int(line), message) if line.isdigit() else Problem(str(path or "?"), 0, str(err))
    if isinstance(err, SyntaxError):
        return Problem(err.filename or str(path), err.lineno or 0, f"syntax error: {err.msg}")
    # The innermost frame in the user's own file (else the innermost outside the import machinery): where
    # the import went wrong.
    frames = [f for f in traceback.extract_tb(err.__traceback__) if not f.filename.startswith("<frozen")]
    mine = [f for f in frames if path is not None and Path(f.filename) == path] or frames[-1:]
    file, line = (mine[-1].filename, mine[-1].lineno) if mine else (str(path or "?"), 0)
    return Problem(file, line or 0, f"{type(err).__name__}: {err}")
