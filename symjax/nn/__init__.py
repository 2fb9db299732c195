"""Flax Linen equivariant layers: thin wrappers over :mod:`symjax.functional`, and :func:`export`.

>>> import jax, jax.numpy as jnp
>>> import flax.linen as fnn
>>> from symjax import groups, nn
>>> G = groups.dihedral(4)
>>> class Net(fnn.Module):
...     @fnn.compact
...     def __call__(self, x):
...         f = fnn.relu(nn.LiftingConv(G, 4)(x))
...         f = fnn.relu(nn.GroupConv(G, 4)(f))
...         return nn.GroupPool()(f).mean(axis=(1, 2))
>>> x = jnp.ones((2, 9, 9, 1))
>>> variables = Net().init(jax.random.key(0), x)
>>> Net().apply(variables, x).shape
(2, 4)
"""
from symjax.nn._export import export
from symjax.nn._layers import (
    ConvWrapper,
    GroupBatchNorm,
    GroupConv,
    GroupPool,
    LiftingConv,
    SetLinear,
    SetPool,
    default_kernel_init,
)
from symjax.nn._equivariant_linear import EquivariantLinear
from symjax.nn._fields import (
    FieldPool,
    FourierPointwise,
    GatedNonLinearity,
    InnerBatchNorm,
    NormBatchNorm,
    NormNonLinearity,
    NormPool,
    PointwiseNonLinearity,
)
from symjax.nn._steerable import SteerableConv
from symjax.nn._relaxed import RelaxedGroupConv, RelaxedLiftingConv
from symjax.nn._restrict import Restrict

__all__ = ["SteerableConv", "EquivariantLinear", "LiftingConv", "GroupConv", "GroupPool", "GroupBatchNorm", "SetLinear", "SetPool",
           "ConvWrapper", "default_kernel_init", "export",
           "PointwiseNonLinearity", "NormNonLinearity", "GatedNonLinearity", "FourierPointwise", "NormPool", "FieldPool",
           "InnerBatchNorm", "NormBatchNorm", "RelaxedLiftingConv", "RelaxedGroupConv", "Restrict"]
