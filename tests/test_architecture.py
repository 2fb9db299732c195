"""The map of the house (docs/architecture.md), checked: who may import whom, private names, file sizes."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "symjax"
MAX_LINES = 600

# The units of symjax (a subpackage or a top-level module) and the units each may import.
# Lower layers never import upward; docs/architecture.md draws the same graph.
ALLOWED = {
    "groups": set(),
    "_prng": set(),
    "xla": set(),
    "geometry": {"groups"},
    "actions": {"groups", "geometry"},
    "functional": {"groups", "geometry", "xla"},
    "nn": {"groups", "geometry", "functional"},
    "nnx": {"groups", "geometry", "functional"},
    "symmetry": {"_prng", "groups", "geometry", "actions"},
    "optim": {"_prng", "symmetry"},
    "train": {"_prng", "symmetry", "xla"},
    # the applications on top: the command line and what it runs
    "_selfcheck": {"groups", "geometry", "actions", "functional", "nn", "nnx", "symmetry"},
    "_demo": {"groups", "geometry", "actions", "functional", "nn", "symmetry", "optim", "train"},
    "_tour": {"groups", "actions"},
    "bench": {"groups", "geometry", "actions", "functional", "nn", "symmetry", "optim", "xla"},
    "cli": {"_selfcheck", "_demo", "_tour", "bench", "xla"},
    "symjax": set(),  # symjax/__init__.py imports its submodules lazily, by name
}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "symjax"


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        yield name.removesuffix(".__init__"), path


def _imports(path: pathlib.Path):
    """``(line, module, name)`` for every ``from symjax... import name`` and ``import symjax...`` in ``path``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("symjax"):
            for alias in node.names:
                yield node.lineno, node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("symjax"):
                    yield node.lineno, alias.name, None


MODULES = list(_modules())


def test_every_unit_is_on_the_map():
    assert {_unit(name) for name, _ in MODULES} <= set(ALLOWED)


@pytest.mark.parametrize("name,path", MODULES, ids=[name for name, _ in MODULES])
def test_imports_follow_the_layers(name, path):
    unit = _unit(name)
    bad = []
    for line, module, imported in _imports(path):
        target = _unit(f"{module}.{imported}" if module == "symjax" and imported else module)
        if target != unit and target not in ALLOWED[unit] and imported != "__version__":
            bad.append(f"line {line}: {module} ({target})")
    assert not bad, f"{name} ({unit}) may import only {sorted(ALLOWED[unit])}; it imports {bad}"


@pytest.mark.parametrize("name,path", MODULES, ids=[name for name, _ in MODULES])
def test_no_private_name_is_imported_from_another_module(name, path):
    bad = [f"line {line}: from {module} import {imported}" for line, module, imported in _imports(path)
           if imported and imported.startswith("_") and not imported.startswith("__")]
    assert not bad, f"{name} imports private names: {bad}"


@pytest.mark.parametrize("name,path", MODULES, ids=[name for name, _ in MODULES])
def test_no_file_is_over_the_limit(name, path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT.parent)} has {lines} lines (limit {MAX_LINES}): split it by concept"


def test_linen_and_nnx_do_not_import_each_other():
    for name, path in MODULES:
        unit = _unit(name)
        if unit in ("nn", "nnx"):
            other = {"nn": "nnx", "nnx": "nn"}[unit]
            assert all(_unit(module) != other for _, module, _ in _imports(path)), name
