"""Smoke test of examples/point_cloud.py: the O(3)-invariant model is invariant, the plain MLP is not."""
import functools
import importlib.util
import sys
from pathlib import Path

import jax
import numpy as np

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "point_cloud.py"


@functools.lru_cache(maxsize=None)
def _load():
    spec = importlib.util.spec_from_file_location("point_cloud_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Flax modules are dataclasses, which look their module up
    spec.loader.exec_module(module)
    return module


def test_quick_run(capsys):
    results = _load().main(["--quick"])
    invariant = results["O(3)-invariant (EquivariantLinear)"]
    plain = results["plain MLP (DeepSets on coordinates)"]
    assert invariant["invariance_error"] < 1e-4
    assert plain["invariance_error"] > 1e-2
    assert abs(invariant["rotated_accuracy"] - invariant["accuracy"]) <= 1 / 64
    assert invariant["accuracy"] > 0.4  # four balanced classes: chance is 0.25
    assert "invariance error" in capsys.readouterr().out


def test_make_clouds():
    pc = _load()
    clouds, labels = pc.make_clouds(np.random.default_rng(0), 8, 10)
    assert clouds.shape == (8, 10, 3) and clouds.dtype == np.float32
    assert labels.shape == (8,) and set(labels.tolist()) <= set(range(len(pc.SHAPES)))
    moved = pc.rotate(jax.random.key(0), clouds)
    np.testing.assert_allclose(np.linalg.norm(moved, axis=-1), np.linalg.norm(clouds, axis=-1), rtol=1e-5)
