"""The pure functional core of the equivariant layers; :mod:`symjax.nn` and :mod:`symjax.nnx` wrap it.

Lifting and group convolutions expand their kernel over the group with one
precomputed gather and run one ``lax.conv_general_dilated``. Groups that act
exactly on the pixel grid (C1, C2, C4, D1, D2, D4) give exact equivariance;
other groups of 2x2 matrices (C8, D8, ...) rotate the kernel by bilinear
interpolation (one einsum) and are only approximately equivariant.

Each layer kind of :mod:`symjax.nn` and :mod:`symjax.nnx` is defined once here
(``FunctionalLiftingConv``, ``FunctionalGroupConv``, ``FunctionalGroupBatchNorm``,
``FunctionalSetLinear``, ``FunctionalEquivariantLinear``): its parameters
(:class:`ParamSpec`), how to apply it and, for convolutions, how it runs as
one plain convolution (export). The Flax classes create the parameters and
call ``apply``; ``docs/adding_a_layer.md`` shows how to add a kind.

>>> import jax, jax.numpy as jnp
>>> from symjax import functional as F, groups
>>> G = groups.dihedral(4)
>>> x = jnp.ones((2, 9, 9, 3))
>>> f = F.lifting_conv(x, jnp.ones((3, 3, 3, 4)), G)
>>> F.group_pool(F.group_conv(f, jnp.ones((3, 3, 4, 8, 5)), G)).shape
(2, 9, 9, 5)
"""
from symjax.functional._conv import group_conv, group_kernel, group_pool, lift_kernel, lifting_conv
from symjax.functional._conv_layer import FunctionalConv, FunctionalGroupConv, FunctionalLiftingConv, flatten_group_maps
from symjax.functional._equivariant_linear import (
    FunctionalEquivariantLinear,
    equivariant_linear,
    equivariant_linear_init,
)
from symjax.functional._field_layers import (
    FunctionalGatedNonLinearity,
    FunctionalInnerBatchNorm,
    FunctionalNormBatchNorm,
    FunctionalNormNonLinearity,
)
from symjax.functional._fields import (
    NORM_FUNCTIONS,
    field_pool,
    field_types,
    fourier_field,
    fourier_pointwise,
    gated_nonlinearity,
    gated_rep,
    norm_nonlinearity,
    norm_pool,
    pointwise_nonlinearity,
)
from symjax.functional._layer import ParamSpec, default_kernel_init, promote_dtype
from symjax.functional._norm import FunctionalGroupBatchNorm, group_batch_norm, group_moments
from symjax.functional._pool import spatial_pool
from symjax.functional._relaxed import FunctionalRelaxedGroupConv, FunctionalRelaxedLiftingConv, relaxed_penalty
from symjax.functional._restrict import restrict, restriction_index
from symjax.functional._set import FunctionalSetLinear, set_linear, set_pool
from symjax.functional._steerable import (
    FunctionalSteerableConv,
    FunctionalSteerableGroupConv,
    FunctionalSteerableLiftingConv,
    steerable_conv,
)
from symjax.functional._steerable_basis import escnn_rings, escnn_sigma, steerable_basis

__all__ = ["steerable_basis", "escnn_rings", "escnn_sigma", "steerable_conv", "FunctionalSteerableConv", "FunctionalSteerableLiftingConv",
           "FunctionalSteerableGroupConv", "restrict", "restriction_index", "equivariant_linear", "equivariant_linear_init", "lift_kernel", "group_kernel", "lifting_conv", "group_conv",
           "group_pool", "spatial_pool", "group_moments", "group_batch_norm", "set_linear", "set_pool",
           "ParamSpec", "default_kernel_init", "promote_dtype", "FunctionalConv", "FunctionalLiftingConv",
           "FunctionalGroupConv", "FunctionalGroupBatchNorm", "FunctionalSetLinear", "FunctionalEquivariantLinear",
           "field_types", "pointwise_nonlinearity", "norm_nonlinearity", "gated_nonlinearity", "gated_rep",
           "norm_pool", "field_pool", "fourier_field", "fourier_pointwise", "NORM_FUNCTIONS",
           "FunctionalNormNonLinearity", "FunctionalGatedNonLinearity", "FunctionalInnerBatchNorm",
           "FunctionalNormBatchNorm",
           "flatten_group_maps", "FunctionalRelaxedLiftingConv", "FunctionalRelaxedGroupConv", "relaxed_penalty"]
