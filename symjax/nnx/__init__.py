"""Flax NNX equivariant layers: thin wrappers over :mod:`symjax.functional`, same names as :mod:`symjax.nn`.

>>> import jax.numpy as jnp
>>> from flax import nnx as fnnx
>>> from symjax import groups, nnx
>>> G = groups.cyclic(4)
>>> rngs = fnnx.Rngs(0)
>>> lift, conv = nnx.LiftingConv(G, 1, 4, rngs=rngs), nnx.GroupConv(G, 4, 4, rngs=rngs)
>>> nnx.GroupPool()(conv(fnnx.relu(lift(jnp.ones((2, 9, 9, 1)))))).shape
(2, 9, 9, 4)
"""
from symjax.nnx._layers import ConvWrapper, GroupBatchNorm, GroupConv, GroupPool, LiftingConv, SetLinear, SetPool
from symjax.nnx._equivariant_linear import EquivariantLinear
from symjax.nnx._fields import (
    FieldPool,
    FourierPointwise,
    GatedNonLinearity,
    InnerBatchNorm,
    NormBatchNorm,
    NormNonLinearity,
    NormPool,
    PointwiseNonLinearity,
)
from symjax.nnx._steerable import SteerableConv
from symjax.nnx._export import ExportedModel, PlainConv, export
from symjax.nnx._relaxed import RelaxedGroupConv, RelaxedLiftingConv
from symjax.nnx._restrict import Restrict

__all__ = ["SteerableConv", "EquivariantLinear", "LiftingConv", "GroupConv", "GroupPool", "GroupBatchNorm", "SetLinear", "SetPool",
           "ConvWrapper", "export", "ExportedModel", "PlainConv",
           "PointwiseNonLinearity", "NormNonLinearity", "GatedNonLinearity", "FourierPointwise", "NormPool", "FieldPool",
           "InnerBatchNorm", "NormBatchNorm", "RelaxedLiftingConv", "RelaxedGroupConv", "Restrict"]
