"""Nonlinearities and pooling for feature fields of any representation: ``(N, ..., rep.dim)``.

A feature map of field type ``rep`` (a :class:`~symjax.groups.Rep`) is an array ``(N, H, W, rep.dim)``
on which ``g`` acts by ``rho(g)`` on the last axis (and by moving the pixels). Its *fields* are the
operands of ``rep`` when it is a :class:`~symjax.groups.DirectSum` (nested sums flattened, so
``3 * (a + b)`` has the six fields ``a, b, a, b, a, b``), else ``rep`` itself: :func:`field_types`.
Every function here acts on each pixel alone, so it commutes with the motion of the pixels, and it
commutes with ``rho(g)`` on the fibre by the property of the fields it asks for:

* :func:`pointwise_nonlinearity`, :func:`field_pool`: permutation fields (``Regular``, ``Quotient``,
  ``Permutation``, ``Trivial``), which any entrywise function or reduction commutes with;
* :func:`norm_nonlinearity`, :func:`gated_nonlinearity`, :func:`norm_pool`: orthogonal fields (every
  irrep), whose norms are invariant;
* :func:`fourier_pointwise`: band-limited regular fields (:func:`fourier_field`), read as functions
  on the group sampled on a grid; exact on ``C_n``/``D_n``, approximate on ``SO(2)``/``O(2)``.

escnn users: ``PointwiseNonLinearity``, ``NormNonLinearity``, ``GatedNonLinearity1``,
``FourierPointwise``, ``GroupPooling`` and ``NormPool`` are these functions.

>>> import jax.numpy as jnp
>>> from symjax import functional as F, groups
>>> G = groups.cyclic(8)
>>> rep = 2 * groups.Irrep(G, 1) + groups.Trivial(G)
>>> [f.dim for f in F.field_types(rep)]
[2, 2, 1]
>>> F.norm_pool(jnp.ones((1, 5, 5, rep.dim)), rep).shape
(1, 5, 5, 3)
"""
from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from symjax.groups import (
    DirectSum,
    FiniteGroup,
    Irrep,
    LieGroup,
    Permutation,
    Regular,
    Rep,
    Trivial,
    cyclic,
    dihedral,
    irreps,
    restrict,
)

__all__ = ["field_types", "pointwise_nonlinearity", "norm_nonlinearity", "gated_nonlinearity", "gated_rep", "norm_pool",
           "field_pool", "fourier_field", "fourier_pointwise", "NORM_FUNCTIONS"]

NORM_FUNCTIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "n_relu": jax.nn.relu,
    "n_sigmoid": jax.nn.sigmoid,
    "n_softplus": jax.nn.softplus,
    "squash": lambda t: t / (1.0 + t),
}
"""The functions of the norm that :func:`norm_nonlinearity` accepts by name (escnn's identifiers)."""


class Layout(NamedTuple):
    """How the channels of a field type split into fields (internal, cached per ``rep``)."""

    fields: tuple[Rep, ...]
    offsets: tuple[int, ...]
    channel_field: np.ndarray  # (rep.dim,) the field of each channel

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(f.dim for f in self.fields)


def check_field_rep(rep, fn: str, argname: str = "rep") -> Rep:
    if not isinstance(rep, Rep):
        raise TypeError(f"{fn} expects {argname} to be a symjax representation (groups.Rep), got {type(rep).__name__}")
    return rep


@functools.lru_cache(maxsize=None)
def layout(rep: Rep) -> Layout:
    """The fields of ``rep`` (see :func:`field_types`), their offsets and the field of every channel."""
    fields = rep.reps if isinstance(rep, DirectSum) else (rep,)
    offsets = tuple(int(o) for o in np.cumsum([0] + [f.dim for f in fields])[:-1])
    channel_field = np.repeat(np.arange(len(fields)), [f.dim for f in fields])
    channel_field.setflags(write=False)
    return Layout(fields, offsets, channel_field)


def field_types(rep: Rep) -> tuple[Rep, ...]:
    """The fields of a feature vector of type ``rep``: the operands of a direct sum, in order, else ``(rep,)``.

    Nested sums are flattened (as :class:`~symjax.groups.DirectSum` does), so the fields are the
    leaves: ``3 * groups.Regular(G)`` has three regular fields, channel ``c * |G| + g`` in field ``c``.

    Args:
      rep: a :class:`~symjax.groups.Rep`.

    Returns:
      a tuple of :class:`~symjax.groups.Rep`; their dimensions sum to ``rep.dim``.

    >>> from symjax import groups
    >>> G = groups.dihedral(4)
    >>> field_types(2 * groups.Regular(G) + groups.Irrep(G, 1, 1))
    (Rep[D4](R), Rep[D4](R), Rep[D4](ψ(1,1)))
    """
    return layout(check_field_rep(rep, "field_types")).fields


def check_fields(x, rep: Rep, fn: str, argname: str = "x") -> jax.Array:
    """``x`` as an array whose last axis has size ``rep.dim`` (ValueError naming ``fn`` otherwise)."""
    x = jnp.asarray(x)
    if x.ndim < 1 or x.shape[-1] != rep.dim:
        raise ValueError(f"{fn} expects {argname} of shape (..., rep.dim) = (..., {rep.dim}) for rep = {rep!r}, "
                         f"got shape {x.shape}")
    return x


def _group_samples(G) -> np.ndarray:
    """Elements on which a property of a Lie group representation is checked: Haar samples, and a reflection."""
    mats = np.asarray(G.sample(jax.random.key(0), (6,)), np.float64)
    if G.kind == "O":
        mats = np.concatenate([mats, np.diag([-1.0] + [1.0] * (G.n - 1))[None]])
    return mats


@functools.lru_cache(maxsize=None)
def _matrices(field: Rep) -> np.ndarray:
    """All matrices of a finite group's field; a few samples (float32 precision) for a Lie group's."""
    if isinstance(field.group, FiniteGroup):
        return np.asarray(field.matrices)
    return np.asarray(field.rho(jnp.asarray(_group_samples(field.group), jnp.float32)), np.float64)


@functools.lru_cache(maxsize=None)
def is_permutation(field: Rep) -> bool:
    """Whether every ``rho(g)`` of ``field`` is a permutation matrix."""
    if isinstance(field, (Regular, Permutation, Trivial)):
        return True
    if not isinstance(field.group, FiniteGroup):
        return is_trivial(field)
    mats = _matrices(field)
    return bool(np.isin(mats, (0.0, 1.0)).all() and (mats.sum(-1) == 1).all() and (mats.sum(-2) == 1).all())


@functools.lru_cache(maxsize=None)
def is_trivial(field: Rep) -> bool:
    """Whether ``field`` is the trivial representation on ``R^1`` (every ``rho(g) == 1``)."""
    if isinstance(field, Trivial):
        return True
    if isinstance(field, Irrep):
        return field.k == 0 and field.j in (None, 0)
    return field.dim == 1 and bool(np.allclose(_matrices(field), 1.0, atol=1e-5))


@functools.lru_cache(maxsize=None)
def is_orthogonal(field: Rep) -> bool:
    """Whether every ``rho(g)`` of ``field`` is orthogonal, so that the norm of a field is invariant."""
    if isinstance(field, (Irrep, Regular, Permutation, Trivial)):
        return True
    mats = _matrices(field)
    return bool(np.allclose(mats @ np.swapaxes(mats, -1, -2), np.eye(field.dim), atol=1e-5))


def require(rep: Rep, test: Callable[[Rep], bool], what: str, fn: str) -> Layout:
    """The layout of ``rep``; ValueError naming the first field that fails ``test``."""
    lay = layout(check_field_rep(rep, fn))
    for i, f in enumerate(lay.fields):
        if not test(f):
            raise ValueError(f"{fn} expects every field of rep to be {what}; field {i} of {rep!r} is {f!r}")
    return lay


def pointwise_nonlinearity(x: jax.Array, rep: Rep, fn: Callable[[jax.Array], jax.Array] = jax.nn.relu) -> jax.Array:
    """``fn`` applied to every entry of a field map whose fields are permutation representations.

    An entrywise function commutes with permuting the entries, so this is exactly equivariant on
    regular, quotient and trivial fields (escnn's ``PointwiseNonLinearity``); on any other field
    (an irrep of dimension 2, a sign representation) it is not, and raises ``ValueError``.

    Args:
      x: ``(..., rep.dim)``.
      rep: the field type of ``x``; every field must permute its entries.
      fn: an entrywise function, default ReLU.

    Returns:
      ``fn(x)``, same shape and field type.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> G = groups.cyclic(8)
    >>> pointwise_nonlinearity(-jnp.ones((2, 16)), 2 * groups.Regular(G)).max().item()
    0.0
    >>> pointwise_nonlinearity(jnp.ones((2, 2)), groups.Irrep(G, 1))
    Traceback (most recent call last):
    ...
    ValueError: pointwise_nonlinearity expects every field of rep to be a permutation representation ...
    """
    require(rep, is_permutation, "a permutation representation (Regular, Quotient, Permutation, Trivial): "
            "use norm_nonlinearity, gated_nonlinearity or fourier_pointwise for irreps", "pointwise_nonlinearity")
    return fn(check_fields(x, rep, "pointwise_nonlinearity"))


def take(x: jax.Array, index: np.ndarray) -> jax.Array:
    """``x[..., index]`` for a static index: a slice when the index is a contiguous range, else a gather."""
    if len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
        return x[..., int(index[0]):int(index[0]) + len(index)]
    return x[..., index]


def channels(lay: Layout, which: np.ndarray) -> np.ndarray:
    """The channels of the fields ``which``, in order."""
    return np.concatenate([lay.offsets[i] + np.arange(lay.fields[i].dim) for i in which]).astype(np.int64)


def segments(x: jax.Array, lay: Layout) -> list[tuple[int, jax.Array, np.ndarray]]:
    """The fields of ``x`` grouped by dimension: ``(d, (..., n_d, d) array, field indices (n_d,))``.

    Contiguous fields of one dimension (the usual case, ``c * field``) are one slice; others a gather.
    """
    dims = np.asarray(lay.dims)
    out = []
    for d in sorted(set(lay.dims)):
        which = np.flatnonzero(dims == d)
        out.append((d, take(x, channels(lay, which)).reshape(x.shape[:-1] + (len(which), d)), which))
    return out


def in_order(flat: list[jax.Array], positions: list[np.ndarray]) -> jax.Array:
    """Concatenate ``flat`` along the last axis, entry ``j`` of the result at ``positions`` (one gather, if needed)."""
    out = flat[0] if len(flat) == 1 else jnp.concatenate(flat, -1)
    order = np.concatenate(positions)
    return out if np.array_equal(order, np.arange(len(order))) else out[..., np.argsort(order)]


def assemble(parts: list[tuple[jax.Array, np.ndarray]], lay: Layout, batch: tuple[int, ...]) -> jax.Array:
    """The inverse of :func:`segments`: ``(..., n_d, d)`` chunks for field indices back into ``(..., rep.dim)``."""
    offsets = np.asarray(lay.offsets)
    return in_order([p.reshape(batch + (-1,)) for p, _ in parts],
                    [(offsets[w][:, None] + np.arange(p.shape[-1])).reshape(-1) for p, w in parts])


def norms_of(chunk: jax.Array) -> jax.Array:
    """The norms ``(..., n)`` of ``(..., n, d)`` fields; the gradient at a zero field is 0, not NaN."""
    sq = jnp.sum(jnp.square(chunk), -1)
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def field_norms(x: jax.Array, rep: Rep, fn: str = "field_norms") -> jax.Array:
    """The Euclidean norm of every field: ``(..., rep.dim) -> (..., n_fields)``."""
    lay = require(rep, is_orthogonal, "orthogonal (its norm invariant)", fn)
    parts = [(norms_of(chunk), which) for _, chunk, which in segments(check_fields(x, rep, fn), lay)]
    return in_order([p for p, _ in parts], [w for _, w in parts])


def norm_pool(x: jax.Array, rep: Rep) -> jax.Array:
    """The norm of every field, an invariant: ``(..., rep.dim) -> (..., n_fields)`` (escnn's ``NormPool``).

    Args:
      x: ``(..., rep.dim)``; every field of ``rep`` orthogonal (irreps, permutation fields).
      rep: the field type of ``x``.

    Returns:
      ``(..., len(field_types(rep)))``, trivial fields.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> psi = groups.Irrep(groups.SO(2), 3)
    >>> norm_pool(jnp.array([3.0, 4.0, 0.0, 1.0]), 2 * psi).tolist()
    [5.0, 1.0]
    """
    return field_norms(x, rep, "norm_pool")


def field_pool(x: jax.Array, rep: Rep, reduce: str = "max") -> jax.Array:
    """Pool every permutation field over its entries, an invariant: ``(..., rep.dim) -> (..., n_fields)``.

    The flat counterpart of :func:`symjax.functional.group_pool` (escnn's ``GroupPooling``): with
    ``rep = C * groups.Regular(G)`` it is ``group_pool(x.reshape(..., C, |G|), reduce)``. Quotient
    fields of different sizes may be mixed.

    Args:
      x: ``(..., rep.dim)``.
      rep: the field type of ``x``; every field a permutation representation.
      reduce: ``"max"``, ``"mean"`` or ``"sum"``.

    Returns:
      ``(..., len(field_types(rep)))``.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> field_pool(jnp.arange(8.0), 2 * groups.Regular(groups.cyclic(4))).tolist()
    [3.0, 7.0]
    """
    if reduce not in ("max", "mean", "sum"):
        raise ValueError(f"field_pool expects reduce to be 'max', 'mean' or 'sum', got {reduce!r}")
    lay = require(rep, is_permutation, "a permutation representation (Regular, Quotient, Permutation, "
                  "Trivial): use norm_pool for irreps", "field_pool")
    x = check_fields(x, rep, "field_pool")
    op = {"max": jnp.max, "mean": jnp.mean, "sum": jnp.sum}[reduce]
    parts = [(op(chunk, axis=-1), which) for _, chunk, which in segments(x, lay)]
    return in_order([p for p, _ in parts], [w for _, w in parts])


def norm_nonlinearity(x: jax.Array, rep: Rep, bias: jax.Array | None = None, function: str = "n_relu", *,
                      epsilon: float = 1e-10) -> jax.Array:
    """Rescale every field by a function of its norm: ``f * function(|f| - b) / |f|`` (escnn's ``NormNonLinearity``).

    The norm of an orthogonal field is invariant and the direction is kept, so this is exactly
    equivariant for every field type with orthogonal fields (irreps of ``C_n``, ``D_n``, ``SO(2)``,
    ``O(2)``, and permutation fields). A field of norm ``<= epsilon`` is sent to zero.

    Args:
      x: ``(..., rep.dim)``.
      rep: the field type of ``x``.
      bias: optional ``(n_fields,)`` subtracted from the norms (escnn learns ``b = exp(log_bias)``;
        :class:`symjax.nn.NormNonLinearity` does the same); not allowed with ``"squash"``.
      function: ``"n_relu"``, ``"n_sigmoid"``, ``"n_softplus"`` or ``"squash"`` (``t / (1 + t)``),
        see :data:`NORM_FUNCTIONS`.
      epsilon: norms at or below it give zero.

    Returns:
      same shape and field type as ``x``.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> psi = groups.Irrep(groups.SO(2), 1)
    >>> norm_nonlinearity(jnp.array([6.0, 8.0, 0.6, 0.8]), 2 * psi, jnp.array([5.0, 5.0])).tolist()
    [3.0, 4.0, 0.0, 0.0]
    """
    if function not in NORM_FUNCTIONS:
        raise ValueError(f"norm_nonlinearity expects function in {sorted(NORM_FUNCTIONS)}, got {function!r}")
    lay = require(rep, is_orthogonal, "orthogonal (its norm invariant)", "norm_nonlinearity")
    x = check_fields(x, rep, "norm_nonlinearity")
    n = len(lay.fields)
    if bias is not None:
        if function == "squash":
            raise ValueError("norm_nonlinearity with function='squash' takes no bias (as escnn), got a bias")
        if jnp.shape(bias) != (n,):
            raise ValueError(f"norm_nonlinearity expects bias of shape (n_fields,) = ({n},), got {jnp.shape(bias)}")
    parts = []
    for _, chunk, which in segments(x, lay):
        norms = norms_of(chunk)
        new = NORM_FUNCTIONS[function](norms if bias is None else norms - take(bias, which))
        scale = jnp.where(norms > epsilon, new / jnp.maximum(norms, epsilon), 0.0)
        parts.append((chunk * scale[..., None], which))
    return assemble(parts, lay, x.shape[:-1])


def gate_layout(rep: Rep, gates: Sequence[bool] | None, fn: str) -> tuple[np.ndarray, np.ndarray]:
    """The field indices of the gates and of the gated fields (k-th gate for the k-th gated field)."""
    lay = layout(check_field_rep(rep, fn))
    n = len(lay.fields)
    if gates is None:
        if n % 2:
            raise ValueError(f"{fn} with gates=None takes the first half of the fields as gates, so it needs an "
                             f"even number of fields; {rep!r} has {n}")
        flags = np.arange(n) < n // 2
    else:
        flags = np.asarray(gates)
        if flags.shape != (n,) or flags.dtype != bool:
            raise ValueError(f"{fn} expects gates to be {n} booleans (True: a gate field), one per field of "
                             f"{rep!r}, got {gates!r}")
    gate_idx, gated_idx = np.flatnonzero(flags), np.flatnonzero(~flags)
    if len(gate_idx) != len(gated_idx):
        raise ValueError(f"{fn} expects as many gates as gated fields, got {len(gate_idx)} gates and "
                         f"{len(gated_idx)} gated fields")
    for i in gate_idx:
        if not is_trivial(lay.fields[i]):
            raise ValueError(f"{fn} expects every gate to be a trivial field; field {i} of {rep!r} is "
                             f"{lay.fields[i]!r}")
    for i in gated_idx:
        if not is_orthogonal(lay.fields[i]):
            raise ValueError(f"{fn} expects gated fields with orthogonal matrices; field {i} of {rep!r} is "
                             f"{lay.fields[i]!r}")
    return gate_idx, gated_idx


def gated_rep(rep: Rep, gates: Sequence[bool] | None = None, drop_gates: bool = True) -> Rep:
    """The field type :func:`gated_nonlinearity` returns: the gated fields (``drop_gates``) or ``rep`` itself.

    >>> from symjax import groups
    >>> G = groups.cyclic(8)
    >>> gated_rep(2 * groups.Trivial(G) + 2 * groups.Irrep(G, 1))
    Rep[C8](2ψ1)
    """
    gate_idx, gated_idx = gate_layout(rep, None if gates is None else tuple(gates), "gated_rep")
    if not drop_gates:
        return rep
    return DirectSum(*[layout(rep).fields[i] for i in gated_idx])


def gated_nonlinearity(x: jax.Array, rep: Rep, bias: jax.Array | None = None, *,
                       gates: Sequence[bool] | None = None, drop_gates: bool = True) -> jax.Array:
    """Multiply every gated field by ``sigmoid(gate - b)`` of its trivial gate (escnn's ``GatedNonLinearity1``).

    The gates are invariant scalars, so the product is exactly equivariant for any gated field type.
    The ``k``-th gate field multiplies the ``k``-th gated field.

    Args:
      x: ``(..., rep.dim)``.
      rep: the field type of ``x``: gates (trivial fields) and gated fields (orthogonal).
      bias: optional ``(n_gates,)`` subtracted from the gates before the sigmoid.
      gates: one boolean per field, ``True`` for a gate; default: the first half of the fields are
        the gates, the second half the gated fields (as escnn).
      drop_gates: return only the gated fields (default), else ``rep``'s layout with
        ``sigmoid(gate - b)`` in the gates' place.

    Returns:
      ``(..., gated_rep(rep, gates, drop_gates).dim)``.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> G = groups.cyclic(8)
    >>> rep = groups.Trivial(G) + groups.Irrep(G, 1)
    >>> gated_nonlinearity(jnp.array([0.0, 2.0, 4.0]), rep).tolist()
    [1.0, 2.0]
    """
    gate_idx, gated_idx = gate_layout(rep, None if gates is None else tuple(gates), "gated_nonlinearity")
    lay = layout(rep)
    x = check_fields(x, rep, "gated_nonlinearity")
    if bias is not None and jnp.shape(bias) != (len(gate_idx),):
        raise ValueError(f"gated_nonlinearity expects bias of shape (n_gates,) = ({len(gate_idx)},), got "
                         f"{jnp.shape(bias)}")
    gate_channels, gated_channels = channels(lay, gate_idx), channels(lay, gated_idx)
    g = take(x, gate_channels)
    g = jax.nn.sigmoid(g if bias is None else g - bias)
    dims = {lay.fields[i].dim for i in gated_idx}
    if len(dims) == 1:  # one size (the usual case): a broadcast, no gather
        d = dims.pop()
        y = (take(x, gated_channels).reshape(x.shape[:-1] + (-1, d)) * g[..., None]).reshape(x.shape[:-1] + (-1,))
    else:
        gate_of_channel = np.repeat(np.arange(len(gate_idx)), [lay.fields[i].dim for i in gated_idx])
        y = take(x, gated_channels) * g[..., gate_of_channel]
    if drop_gates:
        return y
    return in_order([y, g], [gated_channels, gate_channels])


def fourier_field(group, max_frequency: int | None = None) -> Rep:
    """One channel of a band-limited regular field, the field type :func:`fourier_pointwise` reads.

    Each irrep of real type appears ``psi.dim`` times, each 2-dimensional irrep of ``C_n``/``SO(2)``
    (complex type) once: the Fourier coefficients of a function on the group with frequencies
    ``<= max_frequency`` (escnn's ``spectral_regular_representation``). For ``C_n``/``D_n`` without
    ``max_frequency`` it is the Fourier decomposition of ``groups.Regular(G)``
    (:func:`~symjax.groups.fourier_decomposition`).

    Args:
      group: ``cyclic(n)``, ``dihedral(n)``, ``SO(2)`` or ``O(2)``.
      max_frequency: the band limit; required for ``SO(2)``/``O(2)``.

    Returns:
      a :class:`~symjax.groups.DirectSum` of :class:`~symjax.groups.Irrep` s.

    >>> from symjax import groups
    >>> fourier_field(groups.SO(2), 2)
    Rep[SO(2)](ψ0 + ψ1 + ψ2)
    >>> fourier_field(groups.O(2), 1).dim
    6
    """
    fields = [psi for psi in irreps(group, max_frequency) for _ in range(1 if psi.type == "C" else psi.dim)]
    return DirectSum(*fields)


class Sampling(NamedTuple):
    """The sampled inverse Fourier transform of a field type (internal, cached): ``f = A x``, ``x = P f``."""

    A: np.ndarray  # (S, d): row i is (rho(g_i) v)^T
    P: np.ndarray  # (d, S): the least-squares projection back, pinv(A)


@functools.lru_cache(maxsize=None)
def fourier_sampling(field: Rep, samples: int | None) -> Sampling:
    """``A[i] = (field(g_i) v)^T`` on a grid: all of ``C_n``/``D_n``; ``C_N``/``D_N`` in ``SO(2)``/``O(2)``."""
    fn = "fourier_pointwise"
    G = check_field_rep(field, fn, "field").group
    if isinstance(G, FiniteGroup):
        if samples is not None:
            raise ValueError(f"{fn} samples every element of the finite group {G.name} (exact); samples must be "
                             f"None, got {samples!r}")
        grid = field
    else:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ValueError(f"{fn} on {G.name} expects samples, the number of rotations sampled, to be a positive "
                             f"int, got {samples!r}")
        if not (isinstance(G, LieGroup) and G.n == 2 and G.kind in ("SO", "O")):
            raise ValueError(f"{fn} expects a field of cyclic(n), dihedral(n), SO(2) or O(2), got {G.name}")
        grid = restrict(field, (cyclic if G.kind == "SO" else dihedral)(samples))
    v, copies = np.zeros(field.dim), {}
    for psi, offset in zip(layout(field).fields, layout(field).offsets):
        if not isinstance(psi, Irrep) or psi.group != G:
            raise ValueError(f"{fn} expects field to be a direct sum of irreps of {G.name} (fourier_field), got the "
                             f"component {psi!r} in {field!r}")
        c = copies[psi] = copies.get(psi, -1) + 1
        if c >= (1 if psi.type == "C" else psi.dim):
            raise ValueError(f"{fn}: {field!r} holds more copies of {psi!r} than a function on the group has "
                             f"({1 if psi.type == 'C' else psi.dim}); use fourier_field")
        v[offset + c] = math.sqrt(psi.dim)
    A = np.asarray(grid.matrices) @ v
    if np.linalg.matrix_rank(A) < field.dim:
        raise ValueError(f"{fn}: {samples} samples of {G.name} cannot resolve the frequencies of {field!r}; "
                         "take more samples (more than twice the largest frequency)")
    A.setflags(write=False)
    P = np.linalg.pinv(A)
    P.setflags(write=False)
    return Sampling(A, P)


def fourier_pointwise(x: jax.Array, field: Rep, fn: Callable[[jax.Array], jax.Array] = jax.nn.relu, *,
                      samples: int | None = None) -> jax.Array:
    """A pointwise function of band-limited functions on the group (escnn's ``FourierPointwise``).

    Each channel holds the Fourier coefficients ``x`` of a function ``f(g) = <field(g) v, x>`` on the
    group; ``f`` is sampled on a grid of elements (the inverse Fourier transform), ``fn`` is applied
    to the samples, and the result is projected back onto the band (least squares). On ``C_n``/
    ``D_n`` the grid is the whole group and the map is exactly equivariant. On ``SO(2)``/``O(2)`` the
    grid is ``C_N``/``D_N`` (``N = samples``): exact for those elements, approximate in between, as
    ``fn(f)`` is not band-limited. Measured (``tests/functional/test_fields.py``, ReLU, random
    coefficients, the largest relative error over 16 random rotations, the largest of seeds 0-3;
    ``O(2)`` with reflections among the elements is within 1.2x of these):

    ================  ======  ======  ======
    SO(2), band       N = 8   N = 16  N = 32
    ================  ======  ======  ======
    max_frequency 1   5.1e-2  8.6e-3  2.0e-3
    max_frequency 2   1.6e-1  3.4e-2  7.4e-3
    max_frequency 3   5.9e-1  6.7e-2  2.0e-2
    ================  ======  ======  ======

    The error falls about 4x each time ``N`` doubles; ``N = 16 * max_frequency`` keeps it below
    1e-2 (max_frequency 3, N = 48: 7.1e-3).

    Args:
      x: ``(..., C * field.dim)``: ``C`` channels, channel ``c`` at ``c * field.dim ...``.
      field: one channel's field type, a sum of irreps as :func:`fourier_field` builds.
      fn: an entrywise function, default ReLU.
      samples: ``SO(2)``/``O(2)``: the number ``N`` of rotations sampled (``O(2)``: ``2N`` elements);
        must be ``None`` for ``C_n``/``D_n``.

    Returns:
      same shape and field type as ``x``.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> field = fourier_field(groups.SO(2), 2)
    >>> y = fourier_pointwise(jnp.ones((4, 5, 5, 2 * field.dim)), field, samples=16)
    >>> y.shape
    (4, 5, 5, 10)
    """
    S = fourier_sampling(field, samples)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.float32)
    if x.ndim < 1 or x.shape[-1] % field.dim:
        raise ValueError(f"fourier_pointwise expects x of shape (..., C * field.dim) with field.dim = {field.dim}, "
                         f"got shape {x.shape}")
    chans = x.reshape(x.shape[:-1] + (-1, field.dim))
    f = chans @ jnp.asarray(S.A.T, x.dtype)
    y = fn(f) @ jnp.asarray(S.P.T, x.dtype)
    return y.reshape(x.shape)
