"""Group actions as pure functions: on images, group feature maps, vectors, sets and graphs.

Every action satisfies ``T_a(T_b(x)) == T_{compose(a, b)}(x)``. Elements may be
Python ints, NumPy ints or traced ``jnp`` integers: each function works under
``jax.jit``, ``jax.vmap`` (over elements and over data) and ``jax.grad``
(with respect to the data). A concrete element takes a fast path
(``rot90``/``flip``); a traced one gathers through a precomputed index map,
so nothing branches on a traced value.

Images are channels-last ``(..., H, W, C)``; a 2x2 group matrix acts on
coordinates ``(x, y)`` with ``x`` along the width (to the right) and ``y`` up
the height axis (row 0 is the top). A group of 3x3 matrices (``octahedral()``,
``full_octahedral()``) acts on volumes ``(..., D, H, W, C)`` and on
``(..., D, H, W, C, |G|)``: its matrices act on ``(x, y, z)``, ``x`` and ``y``
as above in every depth slice and ``z`` along the depth axis (slice 0 first)
(:mod:`symjax.geometry`).

>>> import jax.numpy as jnp
>>> from symjax import actions, groups
>>> x = jnp.arange(4.0).reshape(2, 2, 1)
>>> actions.on_image(groups.cyclic(4), 1, x)[..., 0].tolist()
[[1.0, 3.0], [0.0, 2.0]]
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from symjax.geometry import (
    grid_plan,
    is_exact_on_grid,
    pixel_index,
    regular_index,
    resample,
    transform_exact,
    transform_voxels,
    voxel_index,
    voxel_plan,
)
from symjax.groups import FiniteGroup, LieGroup
from symjax.groups._elements import concrete_element

__all__ = ["on_image", "on_group_image", "on_vectors", "on_set", "on_graph", "rotate_image", "orbit",
           "symmetrize", "augment", "is_exact_on_grid"]

def _check_group(G, fn: str) -> FiniteGroup:
    if not isinstance(G, FiniteGroup):
        raise TypeError(f"{fn} expects G to be a symjax.groups.FiniteGroup, got {type(G).__name__}")
    return G


def _check_image(x, fn: str, argname: str = "x", min_ndim: int = 3) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim < min_ndim:
        layout = "(..., H, W, C)" if min_ndim == 3 else "(..., H, W, C, |G|)"
        raise ValueError(f"{fn} expects {argname} of shape {layout}, got shape {x.shape}")
    return x


def on_image(G: FiniteGroup, g, x: jax.Array) -> jax.Array:
    """Act with element ``g`` on the spatial axes ``(-3, -2)`` of images ``(..., H, W, C)`` (``(-4, -3, -2)`` of volumes).

    Exact pixel permutations for C1, C2, C4, D1, D2, D4 (``jnp.rot90`` and
    width flips); other groups with 2x2 matrices are applied by bilinear
    interpolation (approximate). A group of 3x3 signed permutation matrices
    (``octahedral()``, ``full_octahedral()``, their subgroups) permutes the
    voxels of volumes ``(..., D, H, W, C)`` exactly (transposes and flips):
    the voxel at coordinates ``p`` moves to ``matrices[g] @ p``, with ``(x, y)``
    as for images in every depth slice and ``z`` along the depth axis.

    Args:
      G: a finite group with 2x2 ``matrices`` (``cyclic(n)``, ``dihedral(n)``, ...) or 3x3 signed permutations.
      g: the element (int or traced int32 scalar).
      x: images ``(..., H, W, C)``; ``H == W`` when ``G`` has a 90-degree rotation. Volumes
        ``(..., D, H, W, C)`` for 3x3 matrices; the axes an element exchanges must have equal sizes.

    Returns:
      The transformed images, same shape as ``x``.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> x = jnp.arange(6.0).reshape(1, 2, 3, 1)
    >>> on_image(groups.dihedral(1), 1, x)[0, ..., 0].tolist()  # the width flip
    [[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]
    >>> v = jnp.arange(8.0).reshape(2, 2, 2, 1)
    >>> on_image(groups.octahedral(), 1, v)[0, ..., 0].tolist()  # a quarter turn about z turns each slice
    [[1.0, 3.0], [0.0, 2.0]]
    """
    G = _check_group(G, "on_image")
    plan3 = voxel_plan(G)
    if plan3 is not None:
        return _on_volume(G, plan3, g, jnp.asarray(x))
    x = _check_image(x, "on_image")
    plan = grid_plan(G)
    gi = concrete_element(g, G.order)
    if plan is None:
        if G.matrices is None or G.matrices.shape[-2:] != (2, 2):
            raise ValueError(f"on_image needs a group with 2x2 matrices acting on the plane; "
                             f"{G.name} has {'none' if G.matrices is None else G.matrices.shape[-2:]}")
        return resample(x, jnp.asarray(G.matrices)[g]).astype(x.dtype)
    h, w = x.shape[-3], x.shape[-2]
    if h != w and any(k % 2 for k, _ in plan):
        raise ValueError(f"on_image with {G.name} (90-degree rotations) needs square images, "
                         f"got x with H={h}, W={w}")
    if gi is not None:
        return transform_exact(x, *plan[gi])
    index = jnp.asarray(pixel_index(G, h, w))[g]
    flat = x.reshape(x.shape[:-3] + (h * w, x.shape[-1]))
    return jnp.take(flat, index, axis=-2).reshape(x.shape)


def _on_volume(G: FiniteGroup, plan, g, x: jax.Array) -> jax.Array:
    """:func:`on_image` for a group with a voxel plan."""
    if x.ndim < 4:
        raise ValueError(f"on_image with {G.name} (3x3 matrices) acts on volumes (..., D, H, W, C), got x of shape "
                         f"{x.shape} (images (..., H, W, C) need a group with 2x2 matrices)")
    shape = x.shape[-4:-1]
    if any(shape[a] != shape[b] for axes, _ in plan for b, a in enumerate(axes)):
        raise ValueError(f"on_image with {G.name} exchanges spatial axes, which then need equal sizes, got x with "
                         f"D={shape[0]}, H={shape[1]}, W={shape[2]}")
    gi = concrete_element(g, G.order)
    if gi is not None:
        return transform_voxels(x, *plan[gi])
    index = jnp.asarray(voxel_index(G, *shape))[g]
    flat = x.reshape(x.shape[:-4] + (-1, x.shape[-1]))
    return jnp.take(flat, index, axis=-2).reshape(x.shape)


def on_group_image(G: FiniteGroup, g, f: jax.Array) -> jax.Array:
    """The left regular action on group feature maps ``(..., H, W, C, |G|)``.

    ``out[..., h] = S_g(f)[..., g^-1 h]``: the spatial axes ``(-4, -3)`` move as
    :func:`on_image` moves an image (``(-5, -4, -3)`` as it moves a volume, for
    a group of 3x3 matrices), then the group axis is permuted.

    Args:
      G: a finite group.
      g: the element (int or traced int32 scalar).
      f: ``(..., H, W, C, |G|)``; ``(..., D, H, W, C, |G|)`` for a group of 3x3 matrices.

    Returns:
      Same shape as ``f``.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> f = jnp.zeros((3, 3, 1, 4)).at[1, 1, 0, 0].set(1.0)
    >>> on_group_image(groups.cyclic(4), 1, f)[1, 1, 0].tolist()  # the identity slice moves to r
    [0.0, 1.0, 0.0, 0.0]
    """
    G = _check_group(G, "on_group_image")
    f = _check_image(f, "on_group_image", "f", min_ndim=4)
    if f.ndim < 5 and voxel_plan(G) is not None:
        raise ValueError(f"on_group_image with {G.name} (3x3 matrices) expects f of shape (..., D, H, W, C, |G|), "
                         f"got shape {f.shape}")
    if f.shape[-1] != G.order:
        raise ValueError(f"on_group_image expects the last axis of f to have size |G| = {G.order} "
                         f"({G.name}), got {f.shape[-1]} (f has shape {f.shape})")
    spatial = on_image(G, g, f.reshape(f.shape[:-2] + (-1,))).reshape(f.shape)
    gi = concrete_element(g, G.order)
    index = regular_index(G)[gi] if gi is not None else jnp.asarray(regular_index(G))[g]
    return jnp.take(spatial, index, axis=-1)


def on_vectors(G, g, v: jax.Array) -> jax.Array:
    """Act on vectors ``(..., d)``: ``v @ M.T`` with ``M = G.matrices[g]``.

    ``G`` may also be a Lie group (``SO(3)``, ...), with ``g`` a ``(d, d)`` matrix:
    point clouds and vector features.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> on_vectors(groups.cyclic(4), 1, jnp.array([1.0, 0.0])).tolist()
    [0.0, 1.0]
    """
    v = jnp.asarray(v)
    if isinstance(G, LieGroup):
        m = jnp.asarray(g)
        if m.shape[-2:] != (G.n, G.n):
            raise ValueError(f"on_vectors with {G.name} expects g of shape ({G.n}, {G.n}), got {m.shape}")
    else:
        G = _check_group(G, "on_vectors")
        if G.matrices is None:
            raise ValueError(f"on_vectors needs a group with matrices; {G.name} has none")
        concrete_element(g, G.order)
        m = jnp.asarray(G.matrices)[g]
    if v.ndim < 1 or v.shape[-1] != m.shape[-1]:
        raise ValueError(f"on_vectors expects v of shape (..., {m.shape[-1]}), got {v.shape}")
    dtype = jnp.result_type(v.dtype, jnp.float32) if jnp.issubdtype(v.dtype, jnp.integer) else v.dtype
    return (v @ jnp.swapaxes(m, -1, -2).astype(jnp.result_type(dtype, m.dtype)))


def _check_perm(perm, n: int, argname: str = "perm") -> jax.Array:
    perm = jnp.asarray(perm)
    if perm.ndim != 1 or not jnp.issubdtype(perm.dtype, jnp.integer):
        raise TypeError(f"{argname} must be a 1-D integer permutation, got shape {perm.shape}, dtype {perm.dtype}")
    if perm.shape[0] != n:
        raise ValueError(f"{argname} has length {perm.shape[0]} but the set has {n} elements")
    if not isinstance(perm, jax.core.Tracer):
        p = np.asarray(perm)
        if not np.array_equal(np.sort(p), np.arange(n)):
            raise ValueError(f"{argname} must be a permutation of 0..{n - 1}, got {p.tolist()}")
    return perm


def on_set(perm, x: jax.Array, axis: int = -2) -> jax.Array:
    """Permute the set axis: element ``i`` moves to position ``perm[i]``.

    So ``on_set(p, on_set(q, x)) == on_set(p[q], x)`` (compose as in ``symmetric(n)``).

    Args:
      perm: ``(N,)`` integer permutation.
      x: array with the set of size ``N`` along ``axis`` (default ``-2``: ``(..., N, C)``).

    >>> import jax.numpy as jnp
    >>> on_set(jnp.array([1, 2, 0]), jnp.array([[10.0], [20.0], [30.0]]))[:, 0].tolist()
    [30.0, 10.0, 20.0]
    """
    x = jnp.asarray(x)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"on_set: axis {axis} is out of range for x of shape {x.shape}")
    perm = _check_perm(perm, x.shape[axis])
    return jnp.take(x, jnp.argsort(perm), axis=axis)


def on_graph(perm, nodes: jax.Array, adjacency: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Relabel a graph: node ``i`` becomes node ``perm[i]``.

    Args:
      perm: ``(N,)`` permutation.
      nodes: ``(..., N, C)`` node features.
      adjacency: ``(..., N, N)`` adjacency (or edge-feature) matrix.

    Returns:
      ``(nodes', adjacency')`` with ``adjacency'[perm[i], perm[j]] == adjacency[i, j]``.

    >>> import jax.numpy as jnp
    >>> n, a = on_graph(jnp.array([1, 0]), jnp.eye(2), jnp.array([[0, 1], [0, 0]]))
    >>> a.tolist()
    [[0, 0], [1, 0]]
    """
    adjacency = jnp.asarray(adjacency)
    if adjacency.ndim < 2 or adjacency.shape[-1] != adjacency.shape[-2]:
        raise ValueError(f"on_graph expects adjacency of shape (..., N, N), got {adjacency.shape}")
    perm = _check_perm(perm, adjacency.shape[-1])
    inv = jnp.argsort(perm)
    return on_set(perm, nodes, axis=-2), jnp.take(jnp.take(adjacency, inv, axis=-2), inv, axis=-1)


def rotate_image(x: jax.Array, angle) -> jax.Array:
    """Rotate images ``(..., H, W, C)`` counter-clockwise by ``angle`` radians (bilinear, zero fill).

    The rotation is about the centre ``((H-1)/2, (W-1)/2)``; ``angle`` may be
    traced (SO(2) augmentation under ``vmap``). ``rotate_image(x, pi/2)``
    equals ``on_image(cyclic(4), 1, x)``.

    >>> import math
    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> x = jnp.arange(9.0).reshape(3, 3, 1)
    >>> bool(jnp.allclose(rotate_image(x, math.pi / 2), on_image(groups.cyclic(4), 1, x), atol=1e-5))
    True
    """
    x = _check_image(x, "rotate_image")
    angle = jnp.asarray(angle, jnp.float32)
    if angle.ndim != 0:
        raise ValueError(f"rotate_image expects a scalar angle, got shape {angle.shape}; vmap over angles instead")
    c, s = jnp.cos(angle), jnp.sin(angle)
    return resample(x, jnp.stack([jnp.stack([c, -s]), jnp.stack([s, c])])).astype(
        x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32)


def orbit(G: FiniteGroup, x, act: Callable = on_image) -> jax.Array:
    """All transforms of ``x``: ``stack([act(G, g, x) for g in G])`` (vmapped), new leading axis.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> orbit(groups.dihedral(4), jnp.ones((5, 5, 3))).shape
    (8, 5, 5, 3)
    """
    G = _check_group(G, "orbit")
    return jax.vmap(lambda g: act(G, g, x))(jnp.arange(G.order, dtype=jnp.int32))


def symmetrize(f: Callable, G: FiniteGroup, act_in: Callable = on_image,
               act_out: Callable | None = None) -> Callable:
    """The group average (Reynolds operator) of ``f``, exactly equivariant.

    Returns ``x -> mean_g act_out(G, g^-1, f(act_in(G, g, x)))``. With
    ``act_out=None`` the result is invariant (``act_out`` is the identity).

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> C4 = groups.cyclic(4)
    >>> w = jax.random.normal(jax.random.key(0), (9, 9))
    >>> f = lambda x: (w @ x.reshape(9)).reshape(3, 3, 1)
    >>> fs = symmetrize(f, C4, on_image, on_image)
    >>> x = jax.random.normal(jax.random.key(1), (3, 3, 1))
    >>> bool(jnp.allclose(fs(on_image(C4, 1, x)), on_image(C4, 1, fs(x)), atol=1e-5))
    True
    """
    G = _check_group(G, "symmetrize")

    def averaged(x):
        def one(g):
            y = f(act_in(G, g, x))
            return y if act_out is None else act_out(G, G.inverse(g), y)

        ys = jax.vmap(one)(jnp.arange(G.order, dtype=jnp.int32))
        return jax.tree_util.tree_map(lambda t: jnp.mean(t, axis=0), ys)

    return averaged


def augment(key: jax.Array, x: jax.Array, G: FiniteGroup, act: Callable = on_image,
            *, return_elements: bool = False):
    """Apply an independent uniformly random element to each example along the leading axis.

    Args:
      key: PRNG key.
      x: a batch (leading axis = examples).
      G: the group.
      act: the action on one example (default :func:`on_image`).
      return_elements: also return the ``(N,)`` drawn elements.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> augment(jax.random.key(0), jnp.ones((8, 5, 5, 1)), groups.dihedral(4)).shape
    (8, 5, 5, 1)
    """
    G = _check_group(G, "augment")
    x = jnp.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"augment expects x with a leading batch axis, got shape {x.shape}")
    elements = jax.random.randint(key, (x.shape[0],), 0, G.order, dtype=jnp.int32)
    out = jax.vmap(lambda g, xi: act(G, g, xi))(elements, x)
    return (out, elements) if return_elements else out
