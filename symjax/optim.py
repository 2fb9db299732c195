"""Optax transformations for symmetry removal: weight decay toward a fixed anchor.

``syre`` keeps the effective weights ``phi = theta + theta0`` as the parameters
and adds ``weight_decay * D * (phi - theta0)`` to the updates, which gives the
same trajectory as training ``theta`` on the reparametrised loss of
:func:`symjax.symmetry.remove_symmetry` (same key). Like
``optax.add_decayed_weights`` it is decoupled when chained after a scaling
(``syre_adamw`` mirrors ``optax.adamw``).

>>> import jax, jax.numpy as jnp, optax
>>> from symjax import optim
>>> params = {"w": jnp.ones((4, 4))}
>>> opt = optim.syre_adamw(1e-3, 1e-4, key=jax.random.key(0))
>>> state = opt.init(params)
>>> updates, state = opt.update(jax.tree.map(jnp.zeros_like, params), state, params)
>>> params = optax.apply_updates(params, updates)
>>> params["w"].shape
(4, 4)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from symjax._prng import check_key
from symjax.symmetry._removal import (
    Mask,
    PyTree,
    active_leaves,
    check_anisotropy,
    check_nonnegative,
    draw,
    remove_symmetry,
    warn_low_precision,
)

__all__ = [
    "DecayTowardState",
    "SyreKeyState",
    "decay_toward",
    "syre",
    "syre_adamw",
]


class DecayTowardState(NamedTuple):
    """State of :func:`decay_toward` and of :func:`syre` with ``regenerate=False``.

    >>> import jax, jax.numpy as jnp
    >>> state = syre(1e-4, jax.random.key(0)).init({"w": jnp.ones((2, 3))})
    >>> type(state).__name__, state.anchor["w"].shape
    ('DecayTowardState', (2, 3))

    Attributes:
      anchor: pytree like the params with ``None`` on leaves that are not decayed.
      decay: the diagonal ``D`` in the same layout, or ``None`` for ``D = 1``.
    """

    anchor: PyTree
    decay: PyTree


class SyreKeyState(NamedTuple):
    """State of :func:`syre` with ``regenerate=True``: only the key of the anchor.

    >>> import jax, jax.numpy as jnp
    >>> state = syre(1e-4, jax.random.key(0), regenerate=True).init({"w": jnp.ones((2, 3))})
    >>> type(state).__name__
    'SyreKeyState'

    Attributes:
      key: the PRNG key from which the anchor (and ``D``) is redrawn every step.
    """

    key: jax.Array


def _is_none(x: Any) -> bool:
    return x is None


def _require_params(params: PyTree, name: str) -> None:
    if params is None:
        raise ValueError(f"{name}.update needs params (the current weights); got params=None")


def _decayed_updates(updates: PyTree, params: PyTree, anchor: PyTree, decay: PyTree, weight_decay: Any) -> PyTree:
    def add(a, d, u, p):
        if a is None:
            return u
        pull = p - a if d is None else d * (p - a)
        return u + (weight_decay * pull).astype(jnp.result_type(u))

    if decay is None:
        decay = jax.tree.map(lambda _: None, anchor, is_leaf=_is_none)
    return jax.tree.map(add, anchor, decay, updates, params, is_leaf=_is_none)


def decay_toward(weight_decay: float, anchor: PyTree, mask: Mask = None) -> optax.GradientTransformation:
    """Add ``weight_decay * (params - anchor)`` to the updates: weight decay toward ``anchor``.

    ``decay_toward(wd, zeros)`` is ``optax.add_decayed_weights(wd)``. The anchor
    is copied into the state by ``init`` (so it is not baked into jitted code).
    Leaves that are ``None`` in ``anchor``, non-floating, or masked out are not
    decayed; e.g. ``decay_toward(wd, remove_symmetry(key, params).offsets)`` is
    ``syre(wd, key)``.

    Args:
      weight_decay: non-negative decay strength.
      anchor: pytree with the structure and shapes of the params (``None``
        allowed on any leaf).
      mask: optax-style mask (pytree of bools or callable ``params -> mask``).

    Returns:
      An ``optax.GradientTransformation`` with :class:`DecayTowardState`.

    Raises:
      ValueError: negative ``weight_decay``; ``anchor`` or ``mask`` whose
        structure or shapes do not match the params (at ``init``).

    >>> import jax.numpy as jnp
    >>> params = {"w": jnp.array([1.0, 2.0])}
    >>> opt = decay_toward(0.5, {"w": jnp.array([1.0, 0.0])})
    >>> updates, _ = opt.update({"w": jnp.zeros(2)}, opt.init(params), params)
    >>> updates["w"].tolist()
    [0.0, 1.0]
    """
    check_nonnegative("weight_decay", weight_decay)

    def init(params):
        path_leaves, treedef, active = active_leaves(params, mask)
        try:
            anchor_leaves = treedef.flatten_up_to(anchor)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"anchor must have the structure of params; got {jax.tree.structure(anchor)} "
                f"for params {treedef} ({err})"
            ) from None
        stored = []
        for (path, leaf), a, on in zip(path_leaves, anchor_leaves, active):
            if a is None or not on:
                stored.append(None)
                continue
            if jnp.shape(a) != jnp.shape(leaf):
                raise ValueError(
                    f"anchor{jax.tree_util.keystr(path)} must have shape {jnp.shape(leaf)}, "
                    f"got {jnp.shape(a)}"
                )
            stored.append(jnp.asarray(a, jnp.result_type(leaf)))
        return DecayTowardState(anchor=treedef.unflatten(stored), decay=None)

    def update(updates, state, params=None):
        _require_params(params, "decay_toward")
        return _decayed_updates(updates, params, state.anchor, state.decay, weight_decay), state

    return optax.GradientTransformation(init, update)


def syre(
    weight_decay: float,
    key: jax.Array,
    *,
    scale: float = 0.01,
    mask: Mask = None,
    anisotropy: float = 0.0,
    regenerate: bool = False,
) -> optax.GradientTransformation:
    """Symmetry removal as an Optax transformation: add ``weight_decay * D * (params - theta0)``.

    ``init(params)`` draws ``theta0`` (and ``D``) exactly as
    ``remove_symmetry(key, params, scale=..., mask=..., anisotropy=...)``, so the
    params here are the effective weights ``theta + theta0`` of the
    reparametrised form. Non-floating and masked-out leaves pass through.

    Args:
      weight_decay: non-negative decay strength (syre needs it ``> 0``).
      key: PRNG key of the anchor.
      scale, mask, anisotropy: as in :func:`symjax.symmetry.remove_symmetry`.
      regenerate: if True the state holds only ``key`` and ``update`` redraws the
        bit-identical anchor every step: no memory for it, one Gaussian draw
        per parameter per step. (The update's own arithmetic may round in the
        last bit differently, since XLA fuses it differently.)

    Returns:
      An ``optax.GradientTransformation`` with :class:`DecayTowardState`
      (or :class:`SyreKeyState` when ``regenerate``).

    Raises:
      ValueError: negative ``weight_decay`` or ``scale``, ``anisotropy`` outside
        ``[0, 1)``, a ``mask`` that does not match the params.

    >>> import jax, jax.numpy as jnp
    >>> from symjax.symmetry import remove_symmetry
    >>> params = {"w": jnp.zeros((3, 3))}
    >>> opt = syre(0.1, jax.random.key(0))
    >>> updates, _ = opt.update({"w": jnp.zeros((3, 3))}, opt.init(params), params)
    >>> theta0 = remove_symmetry(jax.random.key(0), params).offsets["w"]
    >>> bool(jnp.allclose(updates["w"], -0.1 * theta0))
    True
    >>> lean = syre(0.1, jax.random.key(0), regenerate=True)
    >>> same, _ = lean.update({"w": jnp.zeros((3, 3))}, lean.init(params), params)
    >>> bool(jnp.all(same["w"] == updates["w"]))
    True
    """
    check_nonnegative("weight_decay", weight_decay)
    check_key(key)
    check_nonnegative("scale", scale)
    eps = check_anisotropy(anisotropy)

    if regenerate:

        def init_key(params):
            path_leaves, _, active = active_leaves(params, mask)
            warn_low_precision(path_leaves, active, stacklevel=2)
            return SyreKeyState(key=key)

        def update_key(updates, state, params=None):
            _require_params(params, "syre")
            anchor, decay = draw(state.key, params, scale, mask, eps)
            return _decayed_updates(updates, params, anchor, decay, weight_decay), state

        return optax.GradientTransformation(init_key, update_key)

    def init(params):
        removal = remove_symmetry(key, params, scale=scale, mask=mask, anisotropy=eps)
        return DecayTowardState(anchor=removal.offsets, decay=removal.decay)

    def update(updates, state, params=None):
        _require_params(params, "syre")
        return _decayed_updates(updates, params, state.anchor, state.decay, weight_decay), state

    return optax.GradientTransformation(init, update)


def syre_adamw(
    learning_rate: optax.ScalarOrSchedule,
    weight_decay: float = 1e-4,
    *,
    key: jax.Array,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    scale: float = 0.01,
    mask: Mask = None,
    anisotropy: float = 0.0,
    regenerate: bool = False,
) -> optax.GradientTransformation:
    """AdamW with symmetry removal: decoupled weight decay toward ``theta0`` instead of zero.

    ``chain(scale_by_adam, syre, scale_by_learning_rate)``, the layout of
    ``optax.adamw``; with ``scale=0`` it equals ``optax.adamw``.

    Args:
      learning_rate: a float or an Optax schedule.
      weight_decay: non-negative decay strength.
      key: PRNG key of the anchor.
      b1, b2, eps: Adam's moment decays and denominator epsilon.
      scale, mask, anisotropy, regenerate: as in :func:`syre`.

    Returns:
      An ``optax.GradientTransformation``.

    >>> import jax, jax.numpy as jnp, optax
    >>> params = {"w": jnp.ones(3)}
    >>> grads = {"w": jnp.array([1.0, -1.0, 0.5])}
    >>> plain, ours = optax.adamw(0.1, weight_decay=1e-2), syre_adamw(0.1, 1e-2, key=jax.random.key(0), scale=0.0)
    >>> a, _ = plain.update(grads, plain.init(params), params)
    >>> b, _ = ours.update(grads, ours.init(params), params)
    >>> bool(jnp.allclose(a["w"], b["w"]))
    True
    """
    return optax.chain(
        optax.scale_by_adam(b1=b1, b2=b2, eps=eps),
        syre(weight_decay, key, scale=scale, mask=mask, anisotropy=anisotropy, regenerate=regenerate),
        optax.scale_by_learning_rate(learning_rate),
    )
