"""The package layout: imports point down and never in a circle, packages stay small and
named by concept, every module imports, every error derives from ``HopwatchError``."""

from __future__ import annotations

import ast
import importlib
import inspect
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Import direction: a package may import its own layer and the layers below it.
LAYERS = {"ingest": 0, "models": 1, "detections": 2, "service": 3}
#: Alembic's environment and revisions run inside Alembic, not as importable modules.
NOT_IMPORTABLE = ("detections.store.migrations",)
MAX_MODULES = 8


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for top in LAYERS
        for p in sorted((ROOT / top).rglob("*.py"))
        if "__pycache__" not in p.parts
    }


MODULES = modules()


def imports_of(name: str, path: Path) -> set[str]:
    """Project modules ``name`` imports: ``from pkg import mod`` counts as ``pkg.mod``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # `import a.b.c` -> nearest module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def test_no_import_cycles() -> None:
    """Depth-first search for a back edge; the message prints the cycle."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node)


def test_imports_point_down() -> None:
    """service -> detections -> models -> ingest; nothing below imports above."""
    wrong = [
        f"{a} imports {b}"
        for a, targets in GRAPH.items()
        for b in targets
        if LAYERS[b.split(".")[0]] > LAYERS[a.split(".")[0]]
    ]
    assert not wrong, "\n".join(wrong)


def test_only_service_imports_fastapi() -> None:
    wrong = []
    for name, path in MODULES.items():
        if name.startswith("service."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            mods = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            wrong += [name for m in mods if m.split(".")[0] in ("fastapi", "starlette")]
    assert not wrong, wrong


def packages() -> dict[Path, list[str]]:
    found: dict[Path, list[str]] = defaultdict(list)
    for path in MODULES.values():
        if path.name not in ("__init__.py", "__main__.py"):
            found[path.parent].append(path.stem)
    return found


@pytest.mark.parametrize("folder", sorted(packages()), ids=lambda p: str(p.relative_to(ROOT)))
def test_packages_are_small_and_named_by_concept(folder: Path) -> None:
    names = packages()[folder]
    if folder.relative_to(ROOT).parts[:3] == ("detections", "store", "migrations"):
        return  # Alembic's own layout
    assert len(names) <= MAX_MODULES, f"{folder}: {len(names)} modules: {sorted(names)}"
    prefixes: dict[str, list[str]] = defaultdict(list)
    for n in names:
        prefixes[n.split("_")[0]].append(n)
    shared = {p: ns for p, ns in prefixes.items() if len(ns) >= 3}
    assert not shared, f"{folder}: three or more modules share a prefix: {shared}"


def test_every_package_has_a_public_face() -> None:
    """Each subpackage's ``__init__`` documents it; one that exports names lists them."""
    for name, path in MODULES.items():
        if path.name != "__init__.py" or name.startswith(NOT_IMPORTABLE):
            continue
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path} has no docstring"
        imported = {
            a.asname or a.name
            for n in tree.body
            if isinstance(n, ast.ImportFrom)
            for a in n.names
            if n.module != "__future__"
        }
        declared = next(
            (
                set(ast.literal_eval(n.value))
                for n in tree.body
                if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__all__"
            ),
            set(),
        )
        assert imported == declared, f"{path}: __all__ {sorted(declared)} != {sorted(imported)}"


def test_no_module_but_a_package_face_re_exports() -> None:
    """A plain module's ``__all__`` names only what the module itself defines."""
    wrong = []
    for path in MODULES.values():
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        defined = {
            n.name
            for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        } | {
            t.id
            for n in tree.body
            if isinstance(n, ast.Assign | ast.AnnAssign)
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            if isinstance(t, ast.Name)
        }
        for n in tree.body:
            if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__all__":
                extra = set(ast.literal_eval(n.value)) - defined
                if extra:
                    wrong.append(f"{path.relative_to(ROOT)} re-exports {sorted(extra)}")
    assert not wrong, "\n".join(wrong)


IMPORTABLE = sorted(
    n for n in MODULES if not n.startswith(NOT_IMPORTABLE) and n != "service.cli.__main__"
)


@pytest.mark.parametrize("name", IMPORTABLE)
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_every_error_derives_from_the_root() -> None:
    from ingest.errors import HopwatchError

    orphans = []
    for name in IMPORTABLE:
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not issubclass(cls, BaseException):
                continue
            if not issubclass(cls, HopwatchError):
                orphans.append(f"{name}.{cls_name}")
    assert not orphans, orphans
