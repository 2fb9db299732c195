"""Equivariant linear maps between arbitrary representations: ``W = sum_k coeffs[k] * basis[k]``.

The basis comes from :func:`symjax.groups.equivariant_basis` (solved once per pair
of representations and cached); a layer only holds the ``k`` coefficients. A bias keeps
the map equivariant only if it is an invariant vector of the output representation,
so the layers hold bias coefficients over ``invariant_basis(rep_out)`` and pass
``bias = bias_coeffs @ invariant_basis(rep_out)`` here.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from symjax.functional._layer import ParamSpec, promote_dtype
from symjax.groups._reps import Rep, equivariant_basis, invariant_basis

__all__ = ["equivariant_linear", "equivariant_linear_init", "FunctionalEquivariantLinear"]


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
    >>> from symjax.groups import Standard, equivariant_basis
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
    >>> from symjax.groups import Regular, equivariant_basis
    >>> equivariant_linear_init(jax.random.key(0), equivariant_basis(Regular(cyclic(4)), Regular(cyclic(4)))).shape
    (4,)
    """
    k, dim_out, _ = _check_basis(basis, "equivariant_linear_init").shape
    return jax.random.normal(key, (k,), dtype) * jnp.asarray(np.sqrt(dim_out / max(k, 1)), dtype)


@dataclasses.dataclass(frozen=True)
class FunctionalEquivariantLinear:
    """The equivariant linear layer ``(..., rep_in.dim) -> (..., rep_out.dim)``: parameters, bias projection, apply.

    Parameters ``coeffs`` ``(k,)`` over ``equivariant_basis(rep_in, rep_out)``
    (:func:`equivariant_linear_init`) and, with ``use_bias``, ``bias``
    ``(k_b,)`` over ``invariant_basis(rep_out)`` (zeros), the only directions
    along which a bias stays equivariant; no ``bias`` when ``rep_out`` has no
    invariant vector.

    Args:
      rep_in, rep_out: representations of one group.
      use_bias: add an invariant bias.
      dtype: computation dtype (default: inferred from input and parameters).
      param_dtype: of the parameters.

    >>> import jax, jax.numpy as jnp
    >>> from symjax.groups import O
    >>> from symjax.groups import Standard, Trivial
    >>> V, S = Standard(O(3)), Trivial(O(3))
    >>> layer = FunctionalEquivariantLinear(2 * V + S, V + 2 * S)
    >>> params = {s.name: s.init(jax.random.key(0), s.shape, s.dtype) for s in layer.param_specs()}
    >>> jax.tree.map(jnp.shape, params), layer.apply(params, jnp.ones((5, 7))).shape
    ({'bias': (2,), 'coeffs': (4,)}, (5, 5))
    """

    param_names: ClassVar[tuple[str, ...]] = ("coeffs", "bias")

    rep_in: Rep
    rep_out: Rep
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32

    @property
    def basis(self) -> np.ndarray:
        """``(k, rep_out.dim, rep_in.dim)``, solved once per pair of representations and cached."""
        return equivariant_basis(self.rep_in, self.rep_out)

    def init_coeffs(self, key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        """The ``coeffs`` initialiser: :func:`equivariant_linear_init` over :attr:`basis` (``shape`` is ``(k,)``)."""
        return equivariant_linear_init(key, self.basis, dtype)

    def param_specs(self) -> tuple[ParamSpec, ...]:
        specs = (ParamSpec("coeffs", (len(self.basis),), self.init_coeffs, self.param_dtype),)
        n_bias = len(invariant_basis(self.rep_out))
        if self.use_bias and n_bias:
            specs += (ParamSpec("bias", (n_bias,), jax.nn.initializers.zeros, self.param_dtype, keyed=False),)
        return specs

    def bias_vector(self, bias: jax.Array) -> jax.Array:
        """The invariant ``(rep_out.dim,)`` vector of the bias coefficients ``(k_b,)``."""
        return jnp.tensordot(bias, jnp.asarray(invariant_basis(self.rep_out)), axes=1)

    def apply(self, params: Mapping[str, jax.Array], x) -> jax.Array:
        bias = params.get("bias")
        bias = None if bias is None else self.bias_vector(bias)
        x, coeffs, bias = promote_dtype(x, params["coeffs"], bias, dtype=self.dtype)
        return equivariant_linear(x, coeffs, self.basis, bias)
