"""Linen steerable convolution between field types of a planar group (escnn's ``R2Conv``)."""
from __future__ import annotations

from typing import Any, Sequence

import jax.numpy as jnp

from symjax import functional as F
from symjax.functional._checks import Padding
from symjax.groups import Rep
from symjax.nn._layers import ConvWrapper

__all__ = ["SteerableConv"]


class SteerableConv(ConvWrapper):
    """Steerable convolution ``(N, H, W, in_rep.dim) -> (N, H', W', out_rep.dim)`` (:class:`symjax.functional.FunctionalSteerableConv`).

    The kernel satisfies ``k(g x) = rho_out(g) k(x) rho_in(g)^-1``: it is expanded from one
    coefficient per element of the steerable basis (Gaussian rings times band-limited
    circular harmonics, solved once per configuration) by one einsum, then applied by one
    convolution. Exactly equivariant for the elements that map the pixel grid onto itself
    (multiples of 90 degrees, the flips), approximately for the other rotations.
    :func:`symjax.nn.export` turns it into a plain ``flax.linen.Conv``.

    Attributes:
      in_rep, out_rep: field types, representations of one planar group (``cyclic(n)``,
        ``dihedral(n)``, ``SO(2)``, ``O(2)``; e.g. ``3 * groups.Regular(G)``,
        ``groups.Irrep(G, 1) + groups.Trivial(G)``).
      kernel_size: ``k`` or ``(k, k)``.
      strides, padding, precision, strict: as :class:`symjax.nn.LiftingConv`.
      use_bias: a learned bias on the invariant (trivial) components of the output.
      dtype, param_dtype: computation and parameter dtypes.
      rings, sigma, max_frequency: the basis' radial profile and band limit
        (``functional.steerable_basis``: escnn's band limit; the outer ring of odd kernels >= 5x5 pulled in).

    Parameters: ``weights`` ``(B,)`` (initialised from the basis: generalised He) and
    ``bias`` ``(number of invariant components,)``.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> C8 = groups.cyclic(8)
    >>> layer = SteerableConv(groups.Trivial(C8), 2 * groups.Irrep(C8, 1) + groups.Trivial(C8), kernel_size=5)
    >>> x = jnp.ones((1, 9, 9, 1))
    >>> variables = layer.init(jax.random.key(0), x)
    >>> variables["params"]["weights"].shape, layer.apply(variables, x).shape
    ((11,), (1, 9, 9, 5))
    """

    in_rep: Rep
    out_rep: Rep
    kernel_size: int | Sequence[int] = 3
    strides: int | Sequence[int] = 1
    padding: Padding = "SAME"
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    precision: Any = None
    strict: bool = False
    rings: Sequence[float] | None = None
    sigma: float | Sequence[float] | None = None
    max_frequency: int | Sequence[int] | None = None

    @property
    def functional(self) -> F.FunctionalSteerableConv:
        return F.FunctionalSteerableConv(
            self.in_rep, self.out_rep, self.kernel_size, self.strides, self.padding, self.use_bias, self.dtype,
            self.param_dtype, self.precision, self.strict, self.rings, self.sigma, self.max_frequency)
