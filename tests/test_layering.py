"""The package's imports run one way, the way the data flows: spec → DAG → runs → probes → statistics →
verdict → report. Lower stages never import higher ones, at module level or inside a function."""

import ast
from pathlib import Path

from conftest import ROOT

SRC = ROOT / "src" / "refute"

# Each top-level package or module of refute, by stage; a module may import its own stage and earlier ones.
STAGES = [
    {"registry", "dotted", "layout", "io"},  # shared vocabulary: no refute imports beyond this stage
    {"components"},  # tasks, models, observables, probes, optimizers, reductions, prediction kinds
    {"spec"},  # hypothesis files → validated plans
    {"scaling"},  # costs, tuning, calibration, chunks, devices
    {"training", "probing", "workflow"},  # the jobs that make runs and probe tables; what the Snakefile needs
    {"stats"},  # reduce, test, decide
    {"loop"},  # lineage, refinement drafts, scoreboard, status
    {"report"},  # reports and the agenda index
    {"jobs", "cli", "__main__", "__init__"},  # entry points (`refute.load` in __init__ reads results)
]
STAGE = {name: i for i, names in enumerate(STAGES) for name in names}


def top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "refute" and len(parts) > 1 else None


def refute_imports(path: Path) -> set[str]:
    """Top-level refute packages `path` imports, anywhere but under `if TYPE_CHECKING:` (annotations only)."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for child in node.body for n in ast.walk(child)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.module != "refute" else [f"refute.{a.name}" for a in node.names]
            out |= {t for t in map(top, names) if t}
        elif isinstance(node, ast.Import):
            out |= {t for t in (top(a.name) for a in node.names) if t}
    return out


def graph() -> dict[str, dict[str, list[str]]]:
    """package → imported package → the files that import it."""
    edges: dict[str, dict[str, list[str]]] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        me = rel.parts[0].removesuffix(".py")
        for other in refute_imports(path) - {me}:
            edges.setdefault(me, {}).setdefault(other, []).append(str(rel))
    return edges


def test_every_package_has_a_stage():
    packages = {p.name.removesuffix(".py") for p in SRC.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert packages - {"__init__"} <= set(STAGE), f"add to STAGES: {sorted(packages - set(STAGE) - {'__init__'})}"


def test_imports_only_reach_earlier_stages():
    backwards = [f"{me} imports {other} ({', '.join(files)})"
                 for me, deps in graph().items() for other, files in deps.items() if STAGE[other] > STAGE[me]]
    assert not backwards, "\n".join(backwards)


def test_the_import_graph_between_packages_has_no_cycle():
    edges = {me: set(deps) for me, deps in graph().items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, node])):
                return cycle
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node, [])
            assert cycle is None, " → ".join(cycle)


def test_spec_types_are_static_and_every_run_spec_argument_says_so():
    """No pydantic model class is made at run time, and a function taking a run spec names its type."""
    unannotated = []
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert "create_model" not in text, f"{path}: pydantic models are module-level classes"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for a in node.args.args + node.args.kwonlyargs:
                    if a.arg == "run" and (a.annotation is None or "RunSpec" not in ast.unparse(a.annotation)):
                        unannotated.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert not unannotated, "\n".join(unannotated)
