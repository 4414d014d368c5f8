"""The package's import structure: no import cycles among plus modules, and a light `import plus`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "plus"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The imports a module runs when it is imported: not those in functions or under `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                found.append(statement)
            elif isinstance(statement, ast.If):
                visit(statement.orelse if is_type_checking(statement.test) else statement.body + statement.orelse)
            elif isinstance(statement, ast.Try):
                visit(statement.body + statement.orelse + statement.finalbody)
                for handler in statement.handlers:
                    visit(handler.body)
            elif isinstance(statement, (ast.With, ast.For, ast.While, ast.ClassDef)):
                visit(statement.body + getattr(statement, "orelse", []))

    visit(tree.body)
    return found


def import_graph() -> dict[str, set[str]]:
    """Each plus module and the plus modules its module-level imports name."""
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}

    def known(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str | None] = set()
        for statement in module_level_imports(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(statement, ast.Import):
                targets.update(known(alias.name) for alias in statement.names if alias.name.startswith("plus"))
                continue
            source = statement.module or ""
            if statement.level:
                base = package.split(".")[: len(package.split(".")) - statement.level + 1]
                source = ".".join([*base, *([source] if source else [])])
            if source == "plus" or source.startswith("plus."):
                targets.update(known(f"{source}.{alias.name}") for alias in statement.names)
        graph[name] = {target for target in targets if target and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as the list of its modules (the first repeated at the end), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_import_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "plus.api" in graph and "plus.inference.batches" in graph["plus.api"]
    assert "plus.errors" in graph["plus.io"]


def test_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles_among_plus_modules() -> None:
    """Imports inside functions may close a cycle (settings <-> tasks does, until tasks becomes a package)."""
    cycle = find_cycle(import_graph())
    assert cycle is None, "module-level import cycle: " + " -> ".join(cycle or [])


def test_import_plus_is_light() -> None:
    """`import plus` (the command line and Snakemake do it) imports neither torch nor the training package."""
    code = "import sys, plus; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    modules = set(loaded.stdout.split())
    assert "plus" in modules
    assert not {name for name in modules if name == "torch" or name.startswith(("plus.training", "plus.api"))}


def test_the_python_api_imports_no_training_code() -> None:
    """`plus.api` (and so `plus.load`) predicts through plus.inference: no Lightning, no plus.training."""
    code = "import sys, plus.api; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    modules = set(loaded.stdout.split())
    assert "plus.inference.batches" in modules
    assert not {name for name in modules if name.startswith(("plus.training", "lightning", "pytorch_lightning"))}
