"""pyproject.toml declares what the code imports: symjax/ against the dependencies, tests/ against the extras."""
import ast
import functools
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
# import names whose distribution is named otherwise, for when it is not installed here
DISTRIBUTIONS = {"orbax": "orbax-checkpoint", "sklearn": "scikit-learn"}
# imported only inside the functions of `symjax demo`, which checks for them first (symjax.cli.DEMO_EXTRAS)
DEMO_ONLY = {"scikit-learn", "matplotlib"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(requirements) -> set[str]:
    return {_normalise(re.match(r"[A-Za-z0-9._-]+", req).group(0)) for req in requirements}


@functools.lru_cache(maxsize=None)
def _installed() -> dict:
    return metadata.packages_distributions()


def _distribution(module: str) -> str:
    installed = _installed().get(module, [])
    return _normalise(installed[0] if installed else DISTRIBUTIONS.get(module, module))


def _third_party(folder: str) -> set[str]:
    """The distributions of every third-party module imported by the ``.py`` files under ``folder``."""
    modules = set()
    for path in (REPO / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    local = {"symjax", "__future__", "conftest"} | {p.stem for p in (REPO / folder).rglob("*.py")}
    return {_distribution(m) for m in modules - local if m not in sys.stdlib_module_names}


def test_every_package_symjax_imports_is_declared():
    core = _declared(PROJECT["dependencies"])
    demo = _declared(PROJECT["optional-dependencies"]["demo"])
    imported = _third_party("symjax")
    assert imported - DEMO_ONLY <= core, f"imported by symjax/ but not in dependencies: {imported - DEMO_ONLY - core}"
    assert DEMO_ONLY <= demo and imported & DEMO_ONLY == DEMO_ONLY


def test_every_dependency_is_imported_by_symjax():
    unused = _declared(PROJECT["dependencies"]) - _third_party("symjax") - {"jaxlib"}  # jaxlib: jax's backend
    assert not unused, f"declared in dependencies but never imported by symjax/: {unused}"


def test_demo_extras_are_the_ones_the_cli_checks():
    from symjax.cli import DEMO_EXTRAS

    assert _declared(DEMO_EXTRAS.values()) == _declared(PROJECT["optional-dependencies"]["demo"])


def test_the_tests_need_only_declared_packages():
    extras = PROJECT["optional-dependencies"]
    allowed = _declared(PROJECT["dependencies"]) | _declared(extras["test"]) | _declared(extras["demo"])
    missing = _third_party("tests") - allowed
    assert not missing, f"imported by tests/ but in neither dependencies nor the test/demo extras: {missing}"


def test_license_is_an_spdx_string_the_build_backend_accepts():
    assert PROJECT["license"] == "Apache-2.0"  # a TOML table is deprecated (setuptools warns on every build)
    (setuptools,) = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    assert re.fullmatch(r"setuptools>=(\d+)", setuptools) and int(setuptools.split(">=")[1]) >= 77  # PEP 639
