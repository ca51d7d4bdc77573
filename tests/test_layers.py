"""gdlib's layers: every package imports only from the layers below it, and no module imports
itself back through others (read from the source with ``ast``, imports inside functions too)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

GDLIB = Path(__file__).resolve().parent.parent / "gdlib"

# Bottom to top. A package may import from the packages of lower layers and from the base
# modules at the top of gdlib (_validate, palette, book), never from its own layer or above.
LAYERS = (("nn", "data", "optim"), ("train",), ("landscapes", "experiments", "plotting"), ("widgets",))
RANK = {package: rank for rank, layer in enumerate(LAYERS, start=1) for package in layer}
BASE = {"_validate", "palette", "book"}


def module_name(path: Path) -> str:
    parts = path.relative_to(GDLIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def gdlib_imports(path: Path) -> set[str]:
    """The gdlib modules ``path`` imports (``from gdlib import x`` counts as ``gdlib.x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "gdlib"}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: use absolute imports (from gdlib.<package> ...)"
            if node.module == "gdlib":
                found |= {f"gdlib.{a.name}" for a in node.names}
            elif node.module and node.module.split(".")[0] == "gdlib":
                found.add(node.module)
    return found


MODULES = {module_name(p): p for p in sorted(GDLIB.rglob("*.py"))}


def resolve(name: str) -> str:
    """The module file that an imported dotted name is (``gdlib.nn`` is its ``__init__``)."""
    while name not in MODULES:  # ``from gdlib.nn.model import MLP`` names a module; a class is not
        name = name.rsplit(".", 1)[0]
    return name


def package(name: str) -> str | None:
    """``nn`` for ``gdlib.nn.model``; None for the base modules and gdlib itself."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def test_the_folder_tree_is_the_layers():
    top = {p.name for p in GDLIB.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert top == set(RANK)
    flat = {p.stem for p in GDLIB.glob("*.py")} - {"__init__"}
    assert flat == BASE, "a module at the top of gdlib belongs in a package"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_down_the_layers(name):
    own = package(name)
    for imported in sorted(gdlib_imports(MODULES[name])):
        target = package(resolve(imported))
        if own is None:  # a base module imports no other part of gdlib
            assert name == "gdlib" or imported == "gdlib", f"{name} (base) imports {imported}"
        elif target is not None and target != own:
            assert RANK[target] < RANK[own], (
                f"{name} (layer {RANK[own]}) imports {imported} (layer {RANK[target]})")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_name_crosses_a_package(name):
    """``from gdlib.<other package>.<module> import _name`` is reaching into another package."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    own = package(name)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gdlib."):
            target = package(node.module)
            if target is not None and target != own:
                assert node.module == f"gdlib.{target}", f"{name} reaches into {node.module}"
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{name} imports {private} from {node.module}"


def test_no_import_cycle_between_modules():
    graph = {name: {resolve(i) for i in gdlib_imports(path)} - {name} for name, path in MODULES.items()}
    # A package's __init__ gathers its own modules; a module that imports its own package
    # through it would be a cycle, so the edges from __init__ to its modules stay in.
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


@pytest.mark.parametrize("name", sorted(n for n in MODULES if package(n) and n.count(".") == 1))
def test_a_package_states_its_api(name):
    """Every name of a package's ``__all__`` is importable from it, public, and defined in one of
    the package's own modules (a package does not pass on another package's names)."""
    module = importlib.import_module(name)
    assert module.__all__ and len(set(module.__all__)) == len(module.__all__)
    for public in module.__all__:
        assert not public.startswith("_")
        obj = getattr(module, public)
        home = getattr(obj, "__module__", None)
        if home is not None and home.startswith("gdlib") and not isinstance(obj, (dict, tuple, str)):
            assert home.startswith(name + "."), f"{name}.{public} comes from {home}"
