"""Relaxed group convolutions (Wang, Walters and Yu, ICML 2022): group convolutions whose weight sharing can break.

The kernel is a sum of ``L`` kernels ``K_l`` (``num_filter_basis``) weighted
by learnable coefficients ``w[l, g]`` that depend on a group element: the
output element ``g`` for the lifting convolution,
``y(g) = sum_l w[l, g] (x * g.K_l)``, and the input element ``h`` for the
group convolution, ``y(g) = sum_h sum_l w[l, h] (f(h) * K_l(g^-1 h))`` moved by
``g``. With coefficients equal over the group (``w[l, g] = a_l``) this is
exactly the lifting / group convolution with the kernel ``sum_l a_l K_l``; the
further the coefficients are from equal, the more the layer breaks the
symmetry. :func:`relaxed_penalty` is the squared distance of a model's
coefficients to equal ones: added to the loss with a weight, it controls the
breaking (the paper penalises the differences between the coefficients,
``sum_{g,h} (w[l, g] - w[l, h])^2``, which is ``2 |G|`` times it).

The coefficients start equal, at ``1/sqrt(L)`` (the paper starts at ones; the
scale keeps the summed kernel at the variance of one ``kernel_init`` draw), so
a relaxed layer starts exactly equivariant.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from jax import lax

from symjax.functional._checks import check_equivariant_config, check_features
from symjax.functional._conv import group_kernel, lift_kernel
from symjax.functional._conv_layer import FunctionalGroupConv, FunctionalLiftingConv, Params
from symjax.functional._layer import Initializer, ParamSpec

__all__ = ["FunctionalRelaxedLiftingConv", "FunctionalRelaxedGroupConv", "relaxed_penalty"]

WEIGHTS = "relaxed_weights"


def _basis_init(kernel_init: Initializer) -> Initializer:
    """``kernel_init`` drawn for ``(..., L, cout)`` as ``L * cout`` output channels: fan-in without ``L``."""

    def init(key, shape, dtype=jnp.float32):
        return kernel_init(key, tuple(shape[:-2]) + (shape[-2] * shape[-1],), dtype).reshape(shape)

    return init


def _equal_weights(key, shape, dtype=jnp.float32) -> jax.Array:
    """``(L, |G|)`` coefficients all equal to ``1/sqrt(L)`` (the key is not used)."""
    return jnp.full(shape, 1.0 / math.sqrt(shape[0]), dtype)


class _Relaxed:
    """What the relaxed lifting and group convolutions share: the coefficients, the convolution, the export."""

    name: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ("kernel", WEIGHTS, "bias")

    def check_basis(self) -> None:
        check_features(self.num_filter_basis, self.name, "num_filter_basis")

    def param_specs(self, in_features: int) -> tuple[ParamSpec, ...]:
        kernel, *bias = super().param_specs(in_features)
        kernel = kernel._replace(shape=kernel.shape[:-1] + (self.num_filter_basis, self.out_features),
                                 init=_basis_init(self.kernel_init))
        weights = ParamSpec(WEIGHTS, (self.num_filter_basis, self.group.order), _equal_weights, self.param_dtype,
                            keyed=False)
        return (kernel, weights, *bias)

    def expand_kernel(self, kernel: jax.Array) -> jax.Array:
        return kernel  # kernel() already gives the plain convolution's kernel

    def input_like(self, x, params: Params) -> jax.Array:
        features = self.feature_shape(params["kernel"].shape[len(self.kernel_size)])
        return jnp.zeros(x.shape[:x.ndim - len(features)] + features, x.dtype)

    def convolve(self, x, kernel, bias) -> jax.Array:
        check_equivariant_config(self.group, x.shape[1:3], self.kernel_size, self.strides, self.padding, self.name,
                                 self.strict)
        x = x.reshape(x.shape[:3] + (-1,))
        y = lax.conv_general_dilated(x, kernel, window_strides=self.strides, padding=self.padding,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=self.precision)
        if bias is not None:
            y = y + jnp.repeat(bias, self.group.order)
        return self.unflatten_output(y)

    def penalty(self, params: Params) -> jax.Array:
        """``sum (w[l, g] - mean_g w[l, g])^2``: the squared distance of the coefficients to equal ones."""
        w = params[WEIGHTS]
        return jnp.sum((w - jnp.mean(w, axis=1, keepdims=True)) ** 2)


@dataclasses.dataclass(frozen=True)
class FunctionalRelaxedLiftingConv(_Relaxed, FunctionalLiftingConv):
    """Relaxed lifting convolution ``(N, H, W, cin) -> (N, H', W', out_features, |G|)`` (Wang et al. 2022).

    Output element ``g`` is ``x`` convolved with ``g.(sum_l w[l, g] K_l)``.
    Parameters: ``kernel`` ``(kh, kw, cin, L, out_features)`` (the ``L``
    kernels), ``relaxed_weights`` ``(L, |G|)`` (equal at initialisation) and
    ``bias`` ``(out_features,)``. With ``relaxed_weights[l] == a_l`` for every
    element it equals :class:`FunctionalLiftingConv` with kernel
    ``sum_l a_l kernel[..., l, :]``. Other arguments as :class:`FunctionalLiftingConv`.

    Args:
      num_filter_basis: ``L``, the number of kernels.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> conv = FunctionalRelaxedLiftingConv(groups.cyclic(4), 6, num_filter_basis=3)
    >>> x = jnp.ones((1, 9, 9, 2))
    >>> params = {s.name: s.init(jax.random.key(0), s.shape, s.dtype) for s in conv.param_specs(conv.in_features(x))}
    >>> {k: v.shape for k, v in params.items()}
    {'kernel': (3, 3, 2, 3, 6), 'relaxed_weights': (3, 4), 'bias': (6,)}
    >>> conv.apply(params, x).shape, float(conv.penalty(params))
    ((1, 9, 9, 6, 4), 0.0)
    """

    name: ClassVar[str] = "RelaxedLiftingConv"
    num_filter_basis: int = 2

    def __post_init__(self):
        super().__post_init__()
        self.check_basis()

    def kernel(self, params: Params) -> jax.Array:
        """The plain kernel ``(kh, kw, cin, out_features * |G|)``: ``sum_l w[l, g] g.K_l`` in column ``c*|G| + g``."""
        k = params["kernel"]
        kh, kw, cin, L, cout = k.shape
        lifted = lift_kernel(k.reshape(kh, kw, cin, L * cout), self.group).reshape(kh, kw, cin, L, cout, -1)
        w = params[WEIGHTS].astype(lifted.dtype)
        return jnp.einsum("hwiloG,lG->hwioG", lifted, w).reshape(kh, kw, cin, -1)


@dataclasses.dataclass(frozen=True)
class FunctionalRelaxedGroupConv(_Relaxed, FunctionalGroupConv):
    """Relaxed group convolution ``(N, H, W, cin, |G|) -> (N, H', W', out_features, |G|)`` (Wang et al. 2022).

    The input's group slice ``h`` is convolved with ``sum_l w[l, h] K_l``
    (moved by each output element as in :class:`FunctionalGroupConv`).
    Parameters: ``kernel`` ``(kh, kw, cin, |G|, L, out_features)``,
    ``relaxed_weights`` ``(L, |G|)`` and ``bias``. With equal coefficients
    ``a_l`` it equals :class:`FunctionalGroupConv` with kernel
    ``sum_l a_l kernel[..., l, :]``. Arguments as :class:`FunctionalRelaxedLiftingConv`.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> conv = FunctionalRelaxedGroupConv(groups.dihedral(4), 5, num_filter_basis=2, use_bias=False)
    >>> [(s.name, s.shape) for s in conv.param_specs(3)]
    [('kernel', (3, 3, 3, 8, 2, 5)), ('relaxed_weights', (2, 8))]
    >>> conv.plain_features
    40
    """

    name: ClassVar[str] = "RelaxedGroupConv"
    num_filter_basis: int = 2

    def __post_init__(self):
        super().__post_init__()
        self.check_basis()

    def kernel(self, params: Params) -> jax.Array:
        """The plain kernel ``(kh, kw, cin * |G|, out_features * |G|)``: input element ``h`` weighted by ``w[:, h]``."""
        k = params["kernel"]
        kh, kw, cin, n, L, cout = k.shape
        expanded = group_kernel(k.reshape(kh, kw, cin, n, L * cout), self.group).reshape(kh, kw, cin, n, L, cout, n)
        w = params[WEIGHTS].astype(expanded.dtype)
        return jnp.einsum("hwiHloG,lH->hwiHoG", expanded, w).reshape(kh, kw, cin * n, cout * n)


def relaxed_penalty(params: Any) -> jax.Array:
    """The squared distance to equal coefficients, summed over every relaxed layer of ``params``.

    Every leaf named ``relaxed_weights`` (Linen ``params`` dicts, NNX
    ``nnx.State``, any pytree) contributes ``sum (w[l, g] - mean_g w[l, g])^2``;
    ``0`` exactly when each relaxed layer is the group convolution. Add
    ``strength * relaxed_penalty(params)`` to the loss: a large ``strength``
    keeps the model equivariant, ``0`` lets it break the symmetry freely.

    Args:
      params: a pytree of parameters.

    Returns:
      A float32 scalar (``0.0`` when there is no relaxed layer).

    >>> import jax.numpy as jnp
    >>> float(relaxed_penalty({"conv": {"relaxed_weights": jnp.array([[1.0, 3.0]]), "bias": jnp.ones(2)}}))
    2.0
    """
    total = jnp.zeros((), jnp.float32)
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        names = [str(getattr(entry, "key", getattr(entry, "name", ""))) for entry in path]
        if WEIGHTS in names[-2:]:
            w = jnp.asarray(leaf)
            total = total + jnp.sum((w - jnp.mean(w, axis=-1, keepdims=True)) ** 2).astype(jnp.float32)
    return total
