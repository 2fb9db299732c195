"""Why a function is not equivariant: the likely causes that :func:`check_equivariance` adds to its report.

Static shapes and a layer's configuration tell most causes before anything is
computed (:func:`symjax.geometry.equivariance_pitfalls`). A symjax convolution
layer is recognised by its configuration (``group``, ``kernel_size``,
``strides``, ``padding``, on the layer or on its ``functional`` definition), so
this module imports no layer package.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from symjax import actions, geometry
from symjax.groups import FiniteGroup

_CONFIG = ("group", "kernel_size", "strides", "padding")

COMMON_CAUSES = (
    "a stride > 1 with an input size whose sampling grid is not symmetric",
    "an even kernel (no centre tap)",
    "a non-square input (or kernel) under 90-degree rotations",
    "a group not exact on the pixel grid (C8, D8, ...: steerable or interpolated kernels), only approximately equivariant off the grid",
    "train-mode batch statistics or dropout (measure the model in eval mode)",
)
GUIDE = 'docs/layers.md, "Why stride, padding, even kernels and non-square inputs break equivariance"'


def conv_config(f: Any) -> dict | None:
    """The convolution configuration of ``f`` (a symjax conv layer or a bound method of one), else ``None``.

    >>> from types import SimpleNamespace
    >>> conv_config(SimpleNamespace(group="C4", kernel_size=(3, 3), strides=2, padding="SAME"))["strides"]
    2
    >>> conv_config(print) is None
    True
    """
    layer = f.__self__ if inspect.ismethod(f) else f
    for holder in (layer, getattr(layer, "functional", None)):
        if holder is not None and all(hasattr(holder, name) for name in _CONFIG):
            return {name: getattr(holder, name) for name in _CONFIG}
    return None


def _spatial_shape(x: Any, act_in: Callable) -> tuple[int, ...] | None:
    shape = np.shape(x)
    if act_in is actions.on_image and len(shape) >= 3:
        return shape[-3:-1]
    if act_in is actions.on_group_image and len(shape) >= 4:
        return shape[-4:-2]
    return None


def likely_causes(f: Any, G: Any, x: Any, act_in: Callable) -> list[str]:
    """The causes that the shapes, the group and (for a symjax conv layer) its configuration show.

    Args:
      f, G, x, act_in: as in :func:`symjax.symmetry.check_equivariance`.

    Returns:
      One sentence per cause; empty when none can be told (any ``f`` whose
      input action is not ``actions.on_image`` or ``actions.on_group_image``).

    >>> import jax.numpy as jnp
    >>> from symjax import actions, groups
    >>> likely_causes(jnp.sin, groups.cyclic(4), jnp.ones((1, 9, 11, 1)), actions.on_image)
    ['the input is 9x11, not square: the rotations of C4 do not map it onto itself']
    """
    if not isinstance(G, FiniteGroup) or not geometry.is_planar(G):
        return []
    config = conv_config(f)
    causes = []
    if config is not None and isinstance(config["group"], FiniteGroup):
        if config["group"] is not G and config["group"].name != G.name:
            causes.append(f"f is a layer over {config['group'].name}, measured under {G.name}")
        if len(np.shape(x)) >= 4:
            return causes + geometry.equivariance_pitfalls(G, np.shape(x)[1:3], config["kernel_size"],
                                                           config["strides"], config["padding"])
    spatial = _spatial_shape(x, act_in)
    return causes + (geometry.equivariance_pitfalls(G, spatial) if spatial is not None else [])


def explain(f: Any, G: Any, x: Any, act_in: Callable) -> str:
    """The paragraph :func:`check_equivariance` appends to a failure: the likely causes, or the common ones.

    >>> print(explain(print, None, None, print).splitlines()[0])
    common causes (see docs/layers.md, "Why stride, padding, even kernels and non-square inputs break equivariance"):
    """
    causes = likely_causes(f, G, x, act_in)
    if causes:
        return "likely cause" + ("s" if len(causes) > 1 else "") + ":\n" + "\n".join(f"  - {c}" for c in causes)
    return f"common causes (see {GUIDE}):\n" + "\n".join(f"  - {c}" for c in COMMON_CAUSES)
