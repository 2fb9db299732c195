"""Symmetry removal (syre): a fixed random offset plus weight decay on any pytree.

The model sees ``theta + theta0`` and ``theta`` is decayed toward zero, which is
weight decay of the effective weights toward the fixed random anchor ``theta0``.
Every offset is drawn from a key derived from the leaf's pytree path, so the
draw depends only on ``key``, the path, the shape and the dtype of the leaf.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
import zlib
from typing import Any, Callable, Union

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from symjax._prng import check_key, is_typed_key

PyTree = Any
Mask = Union[PyTree, Callable[[PyTree], PyTree], None]

_OFFSET_STREAM = 0
_DECAY_STREAM = 1


def _is_none(x: Any) -> bool:
    return x is None


def _is_concrete(value: Any) -> bool:
    return not isinstance(value, jax.core.Tracer)


def check_nonnegative(name: str, value: Any) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is a number >= 0."""
    if not _is_concrete(value):
        return
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a non-negative number, got {value!r}") from None
    if not number >= 0.0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")


def check_anisotropy(anisotropy: Any) -> float:
    """Return ``anisotropy`` as a float, or raise ValueError naming it."""
    if not _is_concrete(anisotropy):
        raise TypeError(
            "anisotropy must be a concrete Python number (it decides whether a decay "
            "tree is stored), got a traced value"
        )
    try:
        eps = float(anisotropy)
    except (TypeError, ValueError):
        raise TypeError(f"anisotropy must be a number in [0, 1), got {anisotropy!r}") from None
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"anisotropy must be in [0, 1), got {anisotropy!r}")
    return eps


def _floating_dtype(leaf: Any) -> np.dtype | None:
    try:
        dtype = jnp.result_type(leaf)
    except TypeError:
        return None
    return dtype if jnp.issubdtype(dtype, jnp.floating) else None


def _mask_leaves(params: PyTree, mask: Mask, n_leaves: int) -> list[bool]:
    if mask is None:
        return [True] * n_leaves
    tree = mask(params) if callable(mask) else mask
    try:
        full = jax.tree.map(lambda m, sub: jax.tree.map(lambda _: m, sub), tree, params)
    except (ValueError, TypeError) as err:
        raise ValueError(
            "mask must be a pytree of bools with the structure of params (or a prefix of it), "
            f"or a callable returning one; got mask structure {jax.tree.structure(tree)} "
            f"for params structure {jax.tree.structure(params)} ({err})"
        ) from None
    leaves = jax.tree.leaves(full)
    if len(leaves) != n_leaves:
        raise ValueError(
            f"mask must match the structure of params: it covers {len(leaves)} leaves, "
            f"params has {n_leaves}"
        )
    flags = []
    for leaf in leaves:
        if np.ndim(leaf) != 0 or not _is_concrete(leaf) or np.asarray(leaf).dtype != np.bool_:
            raise ValueError(f"mask leaves must be concrete Python or NumPy bools, got {leaf!r}")
        flags.append(bool(leaf))
    return flags


def active_leaves(params: PyTree, mask: Mask) -> tuple[list, Any, list[bool]]:
    """Flatten ``params`` with paths and say which leaves syre acts on.

    A leaf is active when it has a real floating dtype and ``mask`` selects it.
    """
    path_leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    selected = _mask_leaves(params, mask, len(path_leaves))
    active = [m and _floating_dtype(leaf) is not None for (_, leaf), m in zip(path_leaves, selected)]
    return path_leaves, treedef, active


def warn_low_precision(path_leaves: list, active: list[bool], stacklevel: int) -> None:
    """Warn once about active leaves stored in fewer than 32 bits."""
    low = [
        f"{jax.tree_util.keystr(path)}: {_floating_dtype(leaf)}"
        for (path, leaf), on in zip(path_leaves, active)
        if on and _floating_dtype(leaf).itemsize < 4
    ]
    if low:
        warnings.warn(
            "symmetry removal on low-precision leaves (" + ", ".join(low) + "): the offset "
            "(scale / sqrt(fan_in), 1/100 of an init scale by default) is attenuated by "
            "rounding and the spread of the anisotropic decay is lost; keep float32 master weights",
            UserWarning,
            stacklevel=stacklevel + 1,
        )


def _leaf_key(key: jax.Array, path: tuple) -> jax.Array:
    # crc32 of the path string: stable across processes, unlike hash().
    return jax.random.fold_in(key, zlib.crc32(jax.tree_util.keystr(path).encode()))


def _fan_in(shape: tuple[int, ...]) -> int:
    return max(math.prod(shape[:-1]), 1) if len(shape) >= 2 else 1


def draw(key: jax.Array, params: PyTree, scale: Any, mask: Mask, anisotropy: float) -> tuple[PyTree, PyTree]:
    """Draw ``(offsets, decay)`` for ``params``; the single source of every syre draw.

    Inactive leaves get ``None``; ``decay`` is ``None`` when ``anisotropy == 0``.
    """
    path_leaves, treedef, active = active_leaves(params, mask)
    offsets, decays = [], []
    for (path, leaf), on in zip(path_leaves, active):
        if not on:
            offsets.append(None)
            decays.append(None)
            continue
        dtype = _floating_dtype(leaf)
        shape = tuple(jnp.shape(leaf))
        draw_dtype = jnp.promote_types(dtype, jnp.float32)
        leaf_key = _leaf_key(key, path)
        # Optimization barriers make the draw bit-identical in and out of jit:
        # XLA otherwise reassociates our scaling with the generator's own
        # constants or with a consumer's, which changes the last bit.
        barrier = jax.lax.optimization_barrier
        # Drawn flat and reshaped: XLA:CPU compiles a rank-1 generator several times faster.
        size = math.prod(shape)
        noise = jax.random.normal(jax.random.fold_in(leaf_key, _OFFSET_STREAM), (size,), draw_dtype).reshape(shape)
        sigma = scale / math.sqrt(_fan_in(shape))
        offsets.append(barrier((barrier(noise) * sigma).astype(dtype)))
        if anisotropy > 0.0:
            d = jax.random.uniform(
                jax.random.fold_in(leaf_key, _DECAY_STREAM),
                (size,),
                draw_dtype,
                minval=1.0 - anisotropy,
                maxval=1.0 + anisotropy,
            ).reshape(shape)
            decays.append(barrier(d.astype(dtype)))
    decay = treedef.unflatten(decays) if anisotropy > 0.0 else None
    return treedef.unflatten(offsets), decay


@struct.dataclass
class SymmetryRemoval:
    """Fixed random offsets (and optional diagonal decay) that remove parameter symmetries.

    A pytree, so it passes through ``jax.jit``. Leaves that syre leaves alone
    (non-floating or masked out) hold ``None`` in ``offsets`` (and in
    ``decay``); ``decay`` is ``None`` as a whole when ``D = 1``.

    Attributes:
      offsets: ``theta0``, a pytree like ``params`` with ``None`` on untouched leaves.
      decay: the diagonal ``D`` of the advanced removal, same layout, or ``None``.

    >>> import jax, jax.numpy as jnp
    >>> removal = remove_symmetry(jax.random.key(0), {"w": jnp.zeros((4, 3))})
    >>> removal.offsets["w"].shape, removal.decay
    ((4, 3), None)
    """

    offsets: PyTree
    decay: PyTree = None

    def apply(self, params: PyTree) -> PyTree:
        """Return the effective weights ``params + offsets`` that the model sees.

        Args:
          params: the trained parameters ``theta``, with the structure used at init.

        Returns:
          ``theta + theta0`` leaf by leaf; untouched leaves are returned as they are.

        >>> import jax, jax.numpy as jnp
        >>> params = {"w": jnp.zeros((4, 3)), "step": jnp.array(3)}
        >>> removal = remove_symmetry(jax.random.key(0), params)
        >>> effective = removal.apply(params)
        >>> bool(jnp.all(effective["w"] == removal.offsets["w"])), int(effective["step"])
        (True, 3)
        """
        return jax.tree.map(
            lambda o, p: p if o is None else p + o, self.offsets, params, is_leaf=_is_none
        )

    def penalty(self, params: PyTree, weight_decay: Any) -> jax.Array:
        """Return ``0.5 * weight_decay * sum(D * params**2)`` over the touched leaves.

        Optax's convention: the gradient is ``weight_decay * D * params``, so the
        paper's ``gamma * ||theta||^2`` is ``weight_decay = 2 * gamma``. Sums are
        accumulated in at least float32.

        Args:
          params: the trained parameters ``theta``.
          weight_decay: non-negative decay strength.

        Returns:
          A scalar.

        >>> import jax, jax.numpy as jnp
        >>> removal = remove_symmetry(jax.random.key(0), {"w": jnp.ones((2, 2))})
        >>> float(removal.penalty({"w": jnp.ones((2, 2))}, 0.5))
        1.0
        """
        check_nonnegative("weight_decay", weight_decay)

        def term(o, d, p):
            if o is None:
                return None
            p = jnp.asarray(p)  # a Python float is a floating leaf too
            p = p.astype(jnp.promote_types(p.dtype, jnp.float32))
            return jnp.sum(p * p if d is None else d * p * p)

        decay = jax.tree.map(lambda _: None, self.offsets, is_leaf=_is_none) if self.decay is None else self.decay
        terms = jax.tree.map(term, self.offsets, decay, params, is_leaf=_is_none)
        return 0.5 * weight_decay * sum(jax.tree.leaves(terms), jnp.zeros((), jnp.float32))


def remove_symmetry(
    key: jax.Array,
    params: PyTree,
    *,
    scale: float = 0.01,
    mask: Mask = None,
    anisotropy: float = 0.0,
) -> SymmetryRemoval:
    """Draw the fixed offsets ``theta0`` (and decay ``D``) that remove the symmetries of ``params``.

    Train ``theta`` on ``loss(removal.apply(theta)) + removal.penalty(theta, wd)``.
    Each real floating leaf ``w`` gets ``theta0 ~ N(0, sigma^2)`` with
    ``sigma = scale / sqrt(fan_in)``, ``fan_in = prod(w.shape[:-1])`` (1 for
    vectors and scalars), in ``w``'s dtype. The key of a leaf is ``key`` folded
    with a hash of its pytree path, so adding a parameter elsewhere leaves the
    other offsets unchanged. Non-floating leaves and leaves where ``mask`` is
    False get no offset and no decay (``None`` in ``offsets`` and ``decay``).

    Args:
      key: a PRNG key.
      params: any pytree of arrays (dicts, lists, NamedTuples, ``FrozenDict``,
        NNX ``State``, dataclass pytrees, ``None`` leaves).
      scale: offset scale relative to a LeCun init (``>= 0``).
      mask: optax-style mask: a pytree of bools shaped like ``params`` (or a
        prefix of it), or a callable ``params -> mask``.
      anisotropy: ``eps`` in ``[0, 1)``; ``eps > 0`` draws a fixed diagonal
        ``D ~ U(1 - eps, 1 + eps)`` per leaf (advanced removal). With ``0`` no
        decay tree is stored (``decay is None``, meaning ``D = 1``).

    Returns:
      A :class:`SymmetryRemoval`.

    Raises:
      ValueError: negative ``scale``, ``anisotropy`` outside ``[0, 1)``, or a
        ``mask`` whose structure does not match ``params``.

    >>> import jax, jax.numpy as jnp
    >>> params = {"dense": {"kernel": jnp.zeros((400, 10)), "bias": jnp.zeros(10)}}
    >>> removal = remove_symmetry(jax.random.key(0), params, scale=0.01)
    >>> round(float(jnp.std(removal.offsets["dense"]["kernel"])) * 20 / 0.01, 1)  # sigma = 0.01/20
    1.0
    >>> removal = remove_symmetry(jax.random.key(0), params, mask=lambda p: jax.tree.map(lambda w: w.ndim > 1, p))
    >>> removal.offsets["dense"]["bias"] is None
    True
    """
    check_key(key)
    check_nonnegative("scale", scale)
    eps = check_anisotropy(anisotropy)
    path_leaves, _, active = active_leaves(params, mask)
    warn_low_precision(path_leaves, active, stacklevel=2)
    offsets, decay = draw(key, params, scale, mask, eps)
    return SymmetryRemoval(offsets=offsets, decay=decay)


def _mask_fingerprint(mask: Mask) -> Any:
    if mask is None or callable(mask):
        return mask
    leaves, treedef = jax.tree.flatten(mask)
    return treedef, tuple(bool(leaf) for leaf in leaves)


@dataclasses.dataclass(frozen=True, eq=False)
class Syre:
    """Frozen, hashable configuration of symmetry removal for a trainer.

    ``Syre(wd, key, ...).init(params)`` equals ``remove_symmetry(key, params, ...)``;
    ``weight_decay`` is the strength passed to :meth:`SymmetryRemoval.penalty`.

    Args:
      weight_decay: ``>= 0``; syre removes symmetries only when it is ``> 0``.
      key: the PRNG key of the offsets.
      scale, mask, anisotropy: as in :func:`remove_symmetry`.

    >>> import jax, jax.numpy as jnp
    >>> config = Syre(1e-4, jax.random.key(0))
    >>> params = {"w": jnp.zeros((8, 8))}
    >>> removal = config.init(params)
    >>> bool(jnp.all(removal.offsets["w"] == remove_symmetry(jax.random.key(0), params).offsets["w"]))
    True
    >>> hash(config) == hash(Syre(1e-4, jax.random.key(0)))
    True
    """

    weight_decay: float
    key: jax.Array
    scale: float = dataclasses.field(default=0.01, kw_only=True)
    mask: Mask = dataclasses.field(default=None, kw_only=True)
    anisotropy: float = dataclasses.field(default=0.0, kw_only=True)

    def __post_init__(self):
        check_nonnegative("weight_decay", self.weight_decay)
        check_key(self.key)
        check_nonnegative("scale", self.scale)
        check_anisotropy(self.anisotropy)

    def _fingerprint(self) -> tuple:
        key = self.key
        data = np.asarray(jax.random.key_data(key) if is_typed_key(key) else key)
        return (
            float(self.weight_decay),
            str(key.dtype),
            data.tobytes(),
            float(self.scale),
            _mask_fingerprint(self.mask),
            float(self.anisotropy),
        )

    def __hash__(self) -> int:
        return hash(self._fingerprint())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Syre):
            return NotImplemented
        return self._fingerprint() == other._fingerprint()

    def init(self, params: PyTree) -> SymmetryRemoval:
        """Draw the offsets for ``params``: ``remove_symmetry(key, params, ...)``.

        Args:
          params: any pytree of arrays.

        Returns:
          A :class:`SymmetryRemoval`.

        >>> import jax, jax.numpy as jnp
        >>> removal = Syre(1e-4, jax.random.key(1), anisotropy=0.01).init({"w": jnp.zeros(3)})
        >>> bool(jnp.all(jnp.abs(removal.decay["w"] - 1) <= 0.01))
        True
        """
        return remove_symmetry(
            self.key, params, scale=self.scale, mask=self.mask, anisotropy=self.anisotropy
        )
