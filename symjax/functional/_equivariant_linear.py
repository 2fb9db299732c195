"""Equivariant linear maps between arbitrary representations: ``W = sum_k coeffs[k] * basis[k]``.

The basis comes from :func:`symjax.groups._reps.equivariant_basis` (solved once per pair
of representations and cached); a layer only holds the ``k`` coefficients. A bias keeps
the map equivariant only if it is an invariant vector of the output representation,
so the layers hold bias coefficients over ``invariant_basis(rep_out)`` and pass
``bias = bias_coeffs @ invariant_basis(rep_out)`` here.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["equivariant_linear", "equivariant_linear_init"]


def _check_basis(basis, fn: str):
    if not hasattr(basis, "ndim") or basis.ndim != 3:
        raise ValueError(f"{fn} expects basis of shape (k, dim_out, dim_in), got "
                         f"{getattr(basis, 'shape', type(basis).__name__)}")
    return basis


def equivariant_linear(x, coeffs, basis, bias=None) -> jax.Array:
    """Apply ``W = sum_k coeffs[k] * basis[k]`` to the last axis of ``x``: ``y = x @ W.T (+ bias)``.

    Equivariant, ``f(x @ rho_in(g).T) == f(x) @ rho_out(g).T``, whenever ``basis`` spans
    equivariant maps and ``bias`` (if any) is invariant, ``rho_out(g) @ bias == bias``.

    Args:
      x: ``(..., dim_in)`` features in the coordinates of ``rep_in``.
      coeffs: ``(k,)`` coefficients over the basis.
      basis: ``(k, dim_out, dim_in)``, e.g. ``equivariant_basis(rep_in, rep_out)``.
      bias: optional ``(dim_out,)`` vector added to every output, e.g.
        ``b @ invariant_basis(rep_out)`` for coefficients ``b``.

    Returns:
      ``(..., dim_out)``.

    >>> import jax.numpy as jnp
    >>> from symjax.groups import SO
    >>> from symjax.groups._reps import Standard, equivariant_basis
    >>> V = Standard(SO(3))
    >>> basis = equivariant_basis(V * V, V)  # the cross product, up to scale
    >>> a, b = jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 0.0])
    >>> (equivariant_linear(jnp.kron(a, b), jnp.array([6 ** 0.5]), basis)).round(5).tolist()
    [0.0, 0.0, 1.0]
    """
    fn = "equivariant_linear"
    basis = _check_basis(basis, fn)
    x, coeffs = jnp.asarray(x), jnp.asarray(coeffs)
    k, dim_out, dim_in = basis.shape
    if x.ndim < 1 or x.shape[-1] != dim_in:
        raise ValueError(f"{fn} expects x of shape (..., dim_in={dim_in}), got {x.shape}")
    if coeffs.shape != (k,):
        raise ValueError(f"{fn} expects coeffs of shape (k,) = ({k},) for a basis of {k} maps, got {coeffs.shape}")
    dtype = jnp.result_type(x.dtype, coeffs.dtype, jnp.float32)
    if jnp.iscomplexobj(basis):
        dtype = jnp.promote_types(dtype, jnp.complex64)
    w = jnp.tensordot(coeffs.astype(dtype), jnp.asarray(basis).astype(dtype), axes=1)  # (dim_out, dim_in)
    y = jnp.einsum("...i,oi->...o", x.astype(dtype), w)
    if bias is None:
        return y
    bias = jnp.asarray(bias)
    if bias.shape != (dim_out,):
        raise ValueError(f"{fn} expects bias of shape (dim_out,) = ({dim_out},), got {bias.shape}")
    return y + bias.astype(dtype)


def equivariant_linear_init(key: jax.Array, basis, dtype=jnp.float32) -> jax.Array:
    """Variance-preserving coefficients: ``N(0, dim_out / k)``, so that ``E ||W||_F^2 = dim_out``.

    With an orthonormal basis, ``E ||W||_F^2 = k * sigma^2``; ``dim_out`` is the value of
    LeCun's ``Var(W_ij) = 1 / dim_in``, so unit-variance inputs give outputs of unit
    variance on average over the output coordinates.

    Args:
      key: a PRNG key.
      basis: ``(k, dim_out, dim_in)``.
      dtype: a real dtype for the coefficients.

    Returns:
      ``(k,)`` coefficients.

    >>> import jax
    >>> from symjax.groups import cyclic
    >>> from symjax.groups._reps import Regular, equivariant_basis
    >>> equivariant_linear_init(jax.random.key(0), equivariant_basis(Regular(cyclic(4)), Regular(cyclic(4)))).shape
    (4,)
    """
    k, dim_out, _ = _check_basis(basis, "equivariant_linear_init").shape
    return jax.random.normal(key, (k,), dtype) * jnp.asarray(np.sqrt(dim_out / max(k, 1)), dtype)
