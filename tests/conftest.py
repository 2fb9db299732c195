"""Shared test settings, fixtures and helpers.

Settings: small hypothesis budgets so the suite stays fast on 2 cores, and
full float32 matmul precision (equivariance is tested to float32 rounding).

Fixtures (any test under ``tests/`` can ask for them by name):

- ``exact_group``: parametrises a test over ``geometry.exact_groups()``
  (C1, C2, C4, D1, D2, D4), with the group names as test ids.
- ``equivariance``: thin helpers over the public ``symmetry.equivariance_error``
  and ``symmetry.check_equivariance`` (never a copy of the measure):
  ``TOL``, ``error(f, G, x, act_in, act_out, **options) -> float`` and
  ``errors(...) -> np.ndarray (|G|,)``, each in one ``jax.jit``, and
  ``assert_equivariant(f, G, x, act_in, act_out, tol=TOL, **options)``, which
  raises ``symmetry.EquivarianceError`` (an ``AssertionError``) with the
  per-element report. ``options`` are those of the measure (``norm``, ``mask``;
  ``reduce`` too for ``error``); ``act_out=None`` tests invariance.
- ``arrays``: test data from NumPy (no XLA compilation per shape):
  ``normal(seed, shape)`` and ``disc_image(size, smooth=True, seed=0, batch=1,
  channels=1)``, a random image supported in the inscribed disc
  (``geometry.disc_mask(size, size, margin=1)``), blurred with a Gaussian of
  sigma 1.5 pixels when ``smooth``: nothing leaves the frame when it is rotated
  by interpolation (C8, D8, SO(2)).
"""
import os
import pathlib
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("symjax", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "symjax"))

# Equivariance is tested to float32 rounding; GPUs default to TF32 convolutions
# (about 1e-4 relative error), so tests ask XLA for full float32 precision.
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

jax.config.update("jax_default_matmul_precision", "highest")

from symjax import geometry, symmetry  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent

TRAINS = ("tests/test_tetris3d.py", "tests/test_symmetry_breaking_example.py")
"""Test files whose time goes into running compiled training code rather than compiling it (marked ``trains``).

``make test`` runs the suite in two pytest runs: ``-m "not trains"`` with XLA's backend optimisation off
(most tests compile many small programs and run each once; their CPU time fell by 39% in tests/test_actions.py,
nn/test_layers.py, groups/test_lie.py and train/test_step.py), then ``-m trains tests`` with it on (at level 0
these files' convolution training ran 3-4x slower: tests/test_tetris3d.py 17 s -> 68 s CPU). Both runs also
use XLA:CPU's older elemental emitters (another quarter to a third off compile-bound files). The flags of
each run and their measurements: tests/xla_flags.py. A plain ``pytest`` runs everything with the defaults."""


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.resolve().relative_to(ROOT).as_posix() in TRAINS:
            item.add_marker(pytest.mark.trains)


def pytest_ignore_collect(collection_path, config):
    """``-m trains`` collects only the files of ``TRAINS`` (not the whole suite a second time)."""
    if config.option.markexpr == "trains" and collection_path.suffix == ".py":
        path = collection_path.resolve()
        if path.is_relative_to(ROOT / "tests") and path.name != "conftest.py":
            return path.relative_to(ROOT).as_posix() not in TRAINS
    return None


TOL = 1e-5
"""Largest relative equivariance error accepted for exact groups (float32 rounding is ~1e-6)."""

BLUR_SIGMA = 1.5
"""Width in pixels of the Gaussian that smooths ``disc_image``."""


def _error(f, G, x, act_in, act_out, **options) -> float:
    return float(jax.jit(lambda x: symmetry.equivariance_error(f, G, x, act_in, act_out, **options))(x))


def _errors(f, G, x, act_in, act_out, **options) -> np.ndarray:
    return np.asarray(jax.jit(lambda x: symmetry.equivariance_error(f, G, x, act_in, act_out, reduce=None,
                                                                    **options))(x))


def _assert_equivariant(f, G, x, act_in, act_out, tol: float = TOL, **options) -> np.ndarray:
    return symmetry.check_equivariance(jax.jit(f), G, x, act_in, act_out, tol=tol, **options)


def _normal(seed: int, shape) -> jax.Array:
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def _disc_image(size: int, smooth: bool = True, seed: int = 0, batch: int = 1, channels: int = 1) -> jax.Array:
    x = np.random.default_rng(seed).standard_normal((batch, size, size, channels)).astype(np.float32)
    if smooth:
        taps = np.exp(-np.arange(-3, 4) ** 2 / (2 * BLUR_SIGMA ** 2))
        blur = np.outer(taps, taps) / np.outer(taps, taps).sum()
        kernel = np.tile(blur[:, :, None, None], (1, 1, 1, channels)).astype(np.float32)
        x = np.asarray(jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", feature_group_count=channels,
                                                    dimension_numbers=("NHWC", "HWIO", "NHWC")))
    return jnp.asarray(x * geometry.disc_mask(size, size, margin=1)[None, :, :, None])


@pytest.fixture(params=geometry.exact_groups(), ids=geometry.EXACT_GROUP_NAMES)
def exact_group(request):
    """Each group exact on the pixel grid in turn (test ids C1 ... D4)."""
    return request.param


@pytest.fixture(scope="session")
def equivariance():
    """Helpers over the public equivariance measure (module docstring)."""
    return SimpleNamespace(TOL=TOL, error=_error, errors=_errors, assert_equivariant=_assert_equivariant)


@pytest.fixture(scope="session")
def arrays():
    """Test data builders (module docstring)."""
    return SimpleNamespace(normal=_normal, disc_image=_disc_image)
