"""Measures of symmetry: equivariance of functions and symmetric structure of weights.

Matrix measures (ranks) work on a single ``(m, n)`` matrix; vmap them for batches.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from symjax.symmetry._checks import (
    check_array,
    check_group,
    check_index,
    check_labels,
    check_matrix,
    check_tolerance,
)
from symjax.symmetry._callables import as_function, explained_trace_errors
from symjax.symmetry._report import explain

PyTree = Any
Action = Callable[[Any, Any, jax.Array], jax.Array]


_NORMS = ("max", "l2")
_REDUCTIONS = ("max", "mean", None)


class EquivarianceError(AssertionError):
    """Raised by :func:`check_equivariance`; the message holds a per-element report.

    >>> import jax.numpy as jnp
    >>> from symjax import actions, groups
    >>> try:
    ...     check_equivariance(lambda x: x[:, ::-1], groups.cyclic(4), jnp.arange(9.0).reshape(1, 3, 3, 1),
    ...                        actions.on_image, actions.on_image)
    ... except EquivarianceError as err:
    ...     print(type(err).__name__)
    EquivarianceError"""


def _check_options(norm: str, reduce: str | None) -> None:
    if norm not in _NORMS:
        raise ValueError(f"norm must be one of {_NORMS}, got {norm!r}")
    if reduce not in _REDUCTIONS:
        raise ValueError(f"reduce must be one of {_REDUCTIONS}, got {reduce!r}")


def _check_arguments(G: Any, act_in: Any, act_out: Any) -> int:
    """Return ``G.order``, or raise naming the argument that is not what :func:`equivariance_error` takes."""
    order = check_group(G)
    if not callable(act_in):
        raise TypeError(f"act_in must be a callable act_in(G, g, x) (e.g. actions.on_image), got {act_in!r}")
    if act_out is not None and not callable(act_out):
        raise TypeError(f"act_out must be a callable act_out(G, g, y) or None (invariance), got {act_out!r}")
    return order


def _restrict(y: jax.Array, mask: jax.Array | None) -> Callable[[jax.Array], jax.Array]:
    """``a -> a`` with the entries where ``mask == 0`` set to zero, in at least float32."""
    dtype = jnp.promote_types(jnp.result_type(y), jnp.float32)
    if mask is None:
        return lambda a: a.astype(dtype)
    keep = jnp.asarray(mask) != 0
    try:
        fits = jnp.broadcast_shapes(keep.shape, y.shape) == y.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"mask must broadcast against the output of f, of shape {y.shape}, got shape {keep.shape}")
    return lambda a: jnp.where(keep, a.astype(dtype), 0)


def _size(a: jax.Array, norm: str) -> jax.Array:
    """``max|a|`` (norm ``"max"``) or ``sum(a**2)`` (norm ``"l2"``: the square root is taken of the ratio)."""
    return jnp.max(jnp.abs(a)) if norm == "max" else jnp.sum(a ** 2)


def equivariance_error(
    f: Callable,
    G: Any,
    x: jax.Array,
    act_in: Action,
    act_out: Action | None,
    *,
    norm: str = "max",
    mask: jax.Array | None = None,
    reduce: str | None = "max",
) -> jax.Array:
    """Return the relative equivariance error ``|f(T_g x) - T'_g f(x)| / |f(x)|``, reduced over the elements of ``G``.

    The one measure of equivariance in symjax (``symjax check``, the demo
    and the benchmarks call it). With the defaults it is
    ``max_g max|f(T_g x) - T'_g f(x)| / max|f(x)|``. The error is relative to
    the size of ``f(x)`` (absolute when ``f(x)`` is zero). Elements are
    vmapped, so ``f`` and both actions must accept a traced element; the
    function is jittable (``f``, ``G``, the actions and the options static).

    An ``nnx.Module`` (or a bound method of one) is measured in the mode it is
    in (``model.train()`` or ``model.eval()``) and is never changed: it is
    split once and every call runs on a fresh copy
    (``nnx.merge(graphdef, state, copy=True)``), so train-mode batch
    statistics come from the batch and are not stored, and every call draws
    the same dropout mask (so measure in ``eval()`` mode unless the train-mode
    function is what you mean). A function that writes NNX state itself (a
    closure over a module in ``train()`` mode, an ``nnx.jit`` function taking
    the module as an argument) cannot run under the vmap: it raises a
    ``TypeError`` that says so, and the modules it refers to are left as they
    were.

    Args:
      f: array function to test, or an ``nnx.Module``.
      G: a finite group (only ``G.order`` is used).
      x: an input on which to evaluate ``f``.
      act_in: ``act_in(G, g, x)``, the action on inputs (e.g. ``actions.on_image``).
      act_out: ``act_out(G, g, y)``, the action on outputs; ``None`` for
        invariance (``T'_g`` is the identity).
      norm: ``"max"`` (largest absolute entry) or ``"l2"`` (Euclidean norm of
        all entries): ``||f(T_g x) - T'_g f(x)|| / ||f(x)||``.
      mask: optional array broadcast against the output ``f(x)``: only entries
        where it is non-zero count, in the difference and in ``|f(x)|`` alike
        (e.g. the inscribed disc of an image rotated by interpolation,
        ``geometry.disc_mask(H, W, margin=1)[:, :, None, None]``).
      reduce: ``"max"`` or ``"mean"`` over the elements, or ``None`` for the
        per-element errors.

    Returns:
      A scalar (float32 or wider), or shape ``(G.order,)`` with
      ``reduce=None``; ``0`` for an exactly equivariant ``f``.

    Raises:
      ValueError: for an unknown ``norm`` or ``reduce``, a ``mask`` that does
        not broadcast against ``f(x)``, or a ``G`` of order 0.
      TypeError: for a ``G`` without an integer ``order``, an ``f``, ``act_in``
        or ``act_out`` that is not callable, or an ``f`` that writes NNX state
        from inside the vmap.

    >>> import jax.numpy as jnp
    >>> from types import SimpleNamespace
    >>> C4 = SimpleNamespace(order=4)
    >>> shift = lambda G, g, x: jnp.roll(x, g)  # C4 acting by cyclic shifts
    >>> x = jnp.array([1.0, 2.0, 3.0, 4.0])
    >>> float(equivariance_error(lambda x: x ** 2, C4, x, shift, shift))
    0.0
    >>> round(float(equivariance_error(jnp.cumsum, C4, x, shift, shift)), 3)
    0.9
    >>> [round(e, 2) for e in equivariance_error(jnp.cumsum, C4, x, shift, shift, reduce=None).tolist()]
    [0.0, 0.6, 0.7, 0.9]
    >>> last_two = jnp.array([0, 0, 1, 1])  # measure on the last two outputs only
    >>> round(float(equivariance_error(jnp.cumsum, C4, x, shift, shift, norm="l2", mask=last_two)), 3)
    0.849
    >>> float(equivariance_error(jnp.sum, C4, x, shift, None))  # invariance
    0.0
    """
    _check_options(norm, reduce)
    order = _check_arguments(G, act_in, act_out)
    function = as_function(f)
    with explained_trace_errors(f):
        y = function(x)
        restrict = _restrict(y, mask)
        reference = _size(restrict(y), norm)
        reference = jnp.where(reference > 0, reference, jnp.ones_like(reference))

        def difference(g):
            expected = y if act_out is None else act_out(G, g, y)
            return _size(restrict(function(act_in(G, g, x)) - expected), norm)

        ratios = jax.vmap(difference)(jnp.arange(order)) / reference
    errors = ratios if norm == "max" else jnp.sqrt(ratios)
    if reduce is None:
        return errors
    return jnp.max(errors) if reduce == "max" else jnp.mean(errors)


def check_equivariance(
    f: Callable,
    G: Any,
    x: jax.Array,
    act_in: Action,
    act_out: Action | None,
    *,
    tol: float = 1e-5,
    norm: str = "max",
    mask: jax.Array | None = None,
) -> np.ndarray:
    """Check that ``f`` is equivariant on ``x``; raise with a per-element report naming the worst element otherwise.

    Args:
      f, G, x, act_in, act_out, norm, mask: as in :func:`equivariance_error`.
      tol: largest accepted relative error (float32 rounding is ~1e-6).

    Returns:
      The per-element relative errors, shape ``(G.order,)``.

    Raises:
      EquivarianceError: (an ``AssertionError``) listing every element's error,
        marking those above ``tol`` and naming the worst element, followed by
        the likely causes that the shapes, the group and (for a symjax conv
        layer) its configuration show
        (:func:`symjax.geometry.equivariance_pitfalls`), or else the common
        causes and where they are explained.
      ValueError: for a negative ``tol``, or as :func:`equivariance_error`.

    >>> import jax.numpy as jnp
    >>> from types import SimpleNamespace
    >>> Z2 = SimpleNamespace(order=2, name="Z2")
    >>> flip = lambda G, g, x: jnp.where(g == 1, -x, x)
    >>> check_equivariance(lambda x: x ** 3, Z2, jnp.arange(3.0), flip, flip).tolist()
    [0.0, 0.0]
    >>> check_equivariance(lambda x: x ** 2, Z2, jnp.arange(3.0), flip, flip)
    Traceback (most recent call last):
    ...
    symjax.symmetry._measures.EquivarianceError: not equivariant under Z2: 1 of 2 elements exceed tol=1e-05;
    worst: element 1 (relative error 2.000e+00)
    ...
    """
    check_tolerance(tol, "tol")
    errors = np.asarray(equivariance_error(f, G, x, act_in, act_out, norm=norm, mask=mask, reduce=None))
    failing = errors > tol
    if failing.any():
        name = getattr(G, "name", f"a group of order {G.order}")
        kind = "invariant" if act_out is None else "equivariant"
        measure = "relative error" if norm == "max" else "relative L2 error"
        worst = int(np.argmax(errors))
        rows = "\n".join(
            f"  {g:>7} | {err:.3e}{'  <- above tol' if bad else ''}"
            for g, (err, bad) in enumerate(zip(errors.tolist(), failing.tolist()))
        )
        raise EquivarianceError(
            f"not {kind} under {name}: {int(failing.sum())} of {len(errors)} elements exceed tol={tol:g}; "
            f"worst: element {worst} ({measure} {errors[worst]:.3e})\n  element | {measure}\n{rows}\n"
            f"{explain(f, G, x, act_in)}"
        )
    return errors


def _singular_values(m: jax.Array) -> jax.Array:
    m = check_matrix(m, "m")
    return jnp.linalg.svd(m.astype(jnp.promote_types(m.dtype, jnp.float32)), compute_uv=False)


def effective_rank(m: jax.Array) -> jax.Array:
    """Return the effective rank ``exp(H(p))``, ``p_i = s_i / sum(s)`` (Roy & Vetterli, 2007).

    Args:
      m: a ``(rows, cols)`` matrix.

    Returns:
      A scalar in ``[1, min(rows, cols)]`` (``0`` for the zero matrix).

    >>> import jax.numpy as jnp
    >>> round(float(effective_rank(jnp.eye(5))), 4)
    5.0
    >>> round(float(effective_rank(jnp.outer(jnp.arange(1.0, 4.0), jnp.ones(6)))), 4)
    1.0
    """
    s = _singular_values(m)
    total = jnp.sum(s)
    p = s / jnp.where(total > 0, total, 1.0)
    entropy = -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0))
    return jnp.where(total > 0, jnp.exp(entropy), 0.0)


def numerical_rank(m: jax.Array, rtol: float = 1e-4) -> jax.Array:
    """Return the number of singular values above ``rtol * s_max``.

    Args:
      m: a ``(rows, cols)`` matrix.
      rtol: relative threshold.

    Returns:
      An int32 scalar; ``0`` for a zero or empty matrix.

    >>> import jax.numpy as jnp
    >>> int(numerical_rank(jnp.diag(jnp.array([1.0, 0.5, 1e-6]))))
    2
    """
    check_tolerance(rtol, "rtol")
    s = _singular_values(m)
    return jnp.sum(s > rtol * jnp.max(s, initial=0.0)).astype(jnp.int32)


def low_rankness(m: jax.Array, rtol: float = 1e-4) -> jax.Array:
    """Return the fraction of singular values at or below ``rtol * s_max``: ``1 - rank / min(m.shape)``.

    Args:
      m: a ``(rows, cols)`` matrix with at least one row and one column.
      rtol: relative threshold.

    Returns:
      A scalar in ``[0, 1]``; ``0`` for a full-rank matrix.

    >>> import jax.numpy as jnp
    >>> float(low_rankness(jnp.diag(jnp.array([1.0, 1.0, 0.0, 0.0]))))
    0.5
    """
    m = check_matrix(m, "m")
    k = min(m.shape)
    if k == 0:
        raise ValueError(f"m must have at least one row and one column, got shape {m.shape}")
    return 1.0 - numerical_rank(m, rtol) / k


def sparsity(params: PyTree, atol: float = 1e-6) -> jax.Array:
    """Return the fraction of floating entries of ``params`` with ``|w| <= atol``.

    Args:
      params: any pytree; non-floating leaves are ignored.
      atol: absolute tolerance.

    Returns:
      A scalar in ``[0, 1]``.

    Raises:
      ValueError: if ``params`` has no floating entry, or ``atol < 0``.

    >>> import jax.numpy as jnp
    >>> float(sparsity({"w": jnp.array([0.0, 1.0, 0.0, 2.0]), "b": jnp.zeros(4)}))
    0.75
    """
    check_tolerance(atol, "atol")
    leaves = [
        jnp.asarray(leaf)
        for leaf in jax.tree.leaves(params)
        if jnp.issubdtype(jnp.result_type(leaf), jnp.floating)
    ]
    total = sum(leaf.size for leaf in leaves)
    if not total:
        raise ValueError(
            f"params must contain at least one floating entry, got {len(jax.tree.leaves(params))} leaves "
            f"({len(leaves)} floating, none with an entry)"
        )
    small = sum(jnp.sum(jnp.abs(leaf) <= atol) for leaf in leaves)
    return small / total


def _neurons(w_in: jax.Array, w_out: jax.Array) -> jax.Array:
    w_in, w_out = check_matrix(w_in, "w_in"), check_matrix(w_out, "w_out")
    if w_in.shape[1] != w_out.shape[0]:
        raise ValueError(
            "w_in (fan_in, hidden) and w_out (hidden, fan_out) must agree on hidden, "
            f"got w_in {w_in.shape} and w_out {w_out.shape}"
        )
    return jnp.concatenate([w_in.T, w_out], axis=1)


def neuron_collapse(w_in: jax.Array, w_out: jax.Array, atol: float = 1e-6) -> jax.Array:
    """Return the number of distinct hidden neurons of a layer pair.

    Neuron ``i`` is the vector ``(w_in[:, i], w_out[i, :])`` (Flax kernel layout);
    it is a copy when an earlier neuron agrees with it within ``atol`` in every
    entry. Permutation symmetry with weight decay collapses neurons into copies.

    Args:
      w_in: ``(fan_in, hidden)`` incoming kernel.
      w_out: ``(hidden, fan_out)`` outgoing kernel.
      atol: absolute tolerance per entry.

    Returns:
      An int32 scalar in ``[1, hidden]``; ``0`` when ``hidden = 0``.

    >>> import jax.numpy as jnp
    >>> w_in = jnp.array([[1.0, 1.0, 2.0]])
    >>> w_out = jnp.array([[3.0], [3.0], [1.0]])
    >>> int(neuron_collapse(w_in, w_out))
    2
    """
    check_tolerance(atol, "atol")
    v = _neurons(w_in, w_out)
    if v.shape[0] == 0:
        return jnp.zeros((), jnp.int32)
    index = jnp.arange(v.shape[0])

    def is_copy(i):
        same = jnp.max(jnp.abs(v - v[i]), axis=1) <= atol
        return jnp.any(same & (index < i))

    return (v.shape[0] - jnp.sum(jax.lax.map(is_copy, index))).astype(jnp.int32)


def neuron_distance(w_in: jax.Array, w_out: jax.Array, i: int, j: int) -> jax.Array:
    """Return ``||(w_in_i, w_out_i) - (w_in_j, w_out_j)|| / sqrt(2)``: the distance of a pair to its mirror.

    This is ``||P theta||`` for the mirror that swaps neurons ``i`` and ``j``.

    Args:
      w_in: ``(fan_in, hidden)`` incoming kernel.
      w_out: ``(hidden, fan_out)`` outgoing kernel.
      i, j: hidden-neuron indices.

    Returns:
      A scalar, ``0`` exactly when the two neurons are identical.

    >>> import jax.numpy as jnp
    >>> float(neuron_distance(jnp.array([[1.0, 1.0]]), jnp.array([[0.0], [2.0]]), 0, 1) ** 2)
    2.0
    """
    v = _neurons(w_in, w_out)
    check_index(i, v.shape[0], "i")
    check_index(j, v.shape[0], "j")
    return jnp.linalg.norm(v[i] - v[j]) / jnp.sqrt(2.0)


def neural_collapse(features: jax.Array, labels: jax.Array, num_classes: int | None = None) -> jax.Array:
    """Return NC1 ``= tr(Sigma_W Sigma_B^+) / C`` of last-layer features (Papyan et al., 2020).

    ``Sigma_W`` is the within-class covariance (averaged over all examples),
    ``Sigma_B`` the covariance of the class means around the global mean. NC1
    tends to ``0`` under neural collapse.

    Args:
      features: ``(n, d)`` features.
      labels: ``(n,)`` integer labels in ``[0, num_classes)``; every class must occur.
      num_classes: ``C``; inferred as ``max(labels) + 1`` if omitted (give it under ``jit``).

    Returns:
      A non-negative scalar.

    Raises:
      ValueError: no rows, fewer than two classes, labels outside
        ``[0, num_classes)`` or a class that does not occur (concrete labels).
      TypeError: non-integer labels, or no ``num_classes`` for traced labels.

    >>> import jax.numpy as jnp
    >>> features = jnp.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> float(neural_collapse(features, jnp.array([0, 0, 1, 1])))
    0.0
    >>> float(neural_collapse(features + jnp.array([[0.1, 0], [-0.1, 0], [0, 0], [0, 0]]), jnp.array([0, 0, 1, 1]))) > 0
    True
    """
    features = check_matrix(features, "features")
    labels = check_array(labels, "labels")
    num_classes = check_labels(labels, num_classes, features.shape[0])
    onehot = jax.nn.one_hot(labels, num_classes, dtype=features.dtype)
    counts = jnp.sum(onehot, axis=0)
    means = (onehot.T @ features) / counts[:, None]
    centred = features - onehot @ means
    sigma_w = centred.T @ centred / features.shape[0]
    between = means - jnp.mean(means, axis=0)
    sigma_b = between.T @ between / num_classes
    return jnp.trace(sigma_w @ jnp.linalg.pinv(sigma_b)) / num_classes


def mirror_distance(params: PyTree, projection: jax.Array) -> jax.Array:
    """Return ``||P theta||``: the distance of ``params`` to the symmetric states of a mirror.

    A loss with the mirror symmetry ``theta -> (I - 2P) theta`` has its symmetric
    states at ``P theta = 0``.

    Args:
      params: any pytree, flattened with ``jax.flatten_util.ravel_pytree``.
      projection: ``(d, d)`` projection ``P = O O^T`` with ``d`` the number of
        flattened entries.

    Returns:
      A non-negative scalar.

    >>> import jax.numpy as jnp
    >>> P = 0.5 * jnp.array([[1.0, -1.0], [-1.0, 1.0]])  # swap the two entries
    >>> float(mirror_distance({"a": jnp.array(1.0), "b": jnp.array(1.0)}, P))
    0.0
    >>> round(float(mirror_distance({"a": jnp.array(1.0), "b": jnp.array(0.0)}, P)) ** 2, 4)
    0.5
    """
    flat, _ = ravel_pytree(params)
    projection = check_array(projection, "projection")
    if projection.shape != (flat.size, flat.size):
        raise ValueError(
            f"projection must have shape ({flat.size}, {flat.size}) for params with "
            f"{flat.size} entries, got {projection.shape}"
        )
    return jnp.linalg.norm(projection @ flat)


def distance_to_symmetric(params: PyTree, act: Callable[[Any, PyTree], PyTree], elements: Any) -> jax.Array:
    """Return ``||theta - mean_g g.theta||``: the distance to the group-symmetric states.

    ``mean_g g.theta`` (the Reynolds average) is the nearest symmetric point when
    the action is orthogonal (e.g. a permutation of neurons).

    Args:
      params: any pytree ``theta``.
      act: ``act(g, params) -> params``, the action of element ``g`` on the
        parameters; it is vmapped over ``elements``.
      elements: the group elements, e.g. ``jnp.arange(G.order)``.

    Returns:
      A non-negative scalar.

    >>> import jax.numpy as jnp
    >>> swap = lambda g, p: jnp.where(g == 1, p[::-1], p)
    >>> float(distance_to_symmetric(jnp.array([2.0, 2.0]), swap, jnp.arange(2)))
    0.0
    >>> round(float(distance_to_symmetric(jnp.array([1.0, 3.0]), swap, jnp.arange(2))) ** 2, 4)
    2.0
    """
    elements = check_array(elements, "elements")
    if elements.ndim != 1 or elements.shape[0] == 0:
        raise ValueError(f"elements must be a non-empty 1-D array of group elements, got shape {elements.shape}")
    orbit = jax.vmap(lambda g: act(g, params))(elements)
    average = jax.tree.map(lambda leaf: jnp.mean(leaf, axis=0), orbit)
    flat, _ = ravel_pytree(jax.tree.map(jnp.subtract, params, average))
    return jnp.linalg.norm(flat)
