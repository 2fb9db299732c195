"""Flax Linen layers on feature fields ``(N, H, W, rep.dim)``: nonlinearities, pooling, batch norms.

Thin wrappers over :mod:`symjax.functional` (``_fields.py``, ``_field_layers.py``). escnn names:
``PointwiseNonLinearity``, ``NormNonLinearity``, ``GatedNonLinearity`` (escnn's
``GatedNonLinearity1``), ``FourierPointwise`` (``FourierPointwise``/``FourierELU``), ``NormPool``,
``FieldPool`` (``GroupPooling`` on flat fields), ``InnerBatchNorm``, ``NormBatchNorm``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from symjax import functional as F
from symjax.groups import Rep
from symjax.nn._layers import declare_params

__all__ = ["PointwiseNonLinearity", "NormNonLinearity", "GatedNonLinearity", "FourierPointwise", "NormPool",
           "FieldPool", "InnerBatchNorm", "NormBatchNorm"]

Initializer = Callable[..., jax.Array]


class PointwiseNonLinearity(nn.Module):
    """``fn`` on every entry of permutation fields (regular, quotient): :func:`symjax.functional.pointwise_nonlinearity`.

    Attributes:
      rep: the field type (ValueError at the call if a field is not a permutation representation).
      fn: an entrywise function, default ReLU.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> PointwiseNonLinearity(3 * groups.Regular(groups.cyclic(8))).apply({}, -jnp.ones((2, 5, 5, 24))).max().item()
    0.0
    """

    rep: Rep
    fn: Callable[[jax.Array], jax.Array] = nn.relu

    def __call__(self, x: jax.Array) -> jax.Array:
        return F.pointwise_nonlinearity(x, self.rep, self.fn)


class FourierPointwise(nn.Module):
    """``fn`` on band-limited functions on the group, sampled and projected back: :func:`symjax.functional.fourier_pointwise`.

    Input ``(..., C * field.dim)``; exact on ``C_n``/``D_n``, approximate on ``SO(2)``/``O(2)``
    (the error table is in :func:`symjax.functional.fourier_pointwise`).

    Attributes:
      field: one channel's field type (:func:`symjax.functional.fourier_field`).
      fn: an entrywise function, default ReLU (escnn's ``FourierELU``: ``fn=flax.linen.elu``).
      samples: ``SO(2)``/``O(2)``: the number of rotations sampled; ``None`` for ``C_n``/``D_n``.

    >>> import jax.numpy as jnp
    >>> from symjax import functional as F, groups
    >>> field = F.fourier_field(groups.SO(2), 2)
    >>> FourierPointwise(field, samples=32).apply({}, jnp.ones((2, 5, 5, 4 * field.dim))).shape
    (2, 5, 5, 20)
    """

    field: Rep
    fn: Callable[[jax.Array], jax.Array] = nn.relu
    samples: int | None = None

    def __call__(self, x: jax.Array) -> jax.Array:
        return F.fourier_pointwise(x, self.field, self.fn, samples=self.samples)


class NormPool(nn.Module):
    """The norm of every field, an invariant: ``(..., rep.dim) -> (..., n_fields)`` (:func:`symjax.functional.norm_pool`).

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> NormPool(4 * groups.Irrep(groups.SO(2), 1)).apply({}, jnp.ones((2, 5, 5, 8))).shape
    (2, 5, 5, 4)
    """

    rep: Rep

    def __call__(self, x: jax.Array) -> jax.Array:
        return F.norm_pool(x, self.rep)


class FieldPool(nn.Module):
    """Pool every permutation field over its entries: ``(..., rep.dim) -> (..., n_fields)`` (:func:`symjax.functional.field_pool`).

    The flat counterpart of :class:`GroupPool`: on ``C * groups.Regular(G)`` it is ``GroupPool`` of
    ``x.reshape(..., C, |G|)``.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> FieldPool(3 * groups.Regular(groups.dihedral(8))).apply({}, jnp.ones((2, 5, 5, 48))).shape
    (2, 5, 5, 3)
    """

    rep: Rep
    reduce: str = "max"

    def __call__(self, x: jax.Array) -> jax.Array:
        return F.field_pool(x, self.rep, self.reduce)


class NormNonLinearity(nn.Module):
    """``f * function(|f| - exp(log_bias)) / |f|`` per field (:class:`symjax.functional.FunctionalNormNonLinearity`).

    Creates ``params`` ``log_bias`` ``(n_fields,)`` (zeros) unless ``use_bias=False``.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> layer = NormNonLinearity(4 * groups.Irrep(groups.cyclic(8), 1))
    >>> x = jnp.ones((2, 5, 5, 8))
    >>> variables = jax.eval_shape(layer.init, jax.random.key(0), x)  # traced only: the shapes
    >>> variables["params"]["log_bias"].shape, jax.eval_shape(layer.apply, variables, x).shape
    ((4,), (2, 5, 5, 8))
    """

    rep: Rep
    function: str = "n_relu"
    use_bias: bool = True
    param_dtype: Any = jnp.float32
    bias_init: Initializer = nn.initializers.zeros_init()
    epsilon: float = 1e-10

    @property
    def functional(self) -> F.FunctionalNormNonLinearity:
        return F.FunctionalNormNonLinearity(self.rep, self.function, use_bias=self.use_bias,
                                            param_dtype=self.param_dtype, bias_init=self.bias_init,
                                            epsilon=self.epsilon)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        layer = self.functional
        return layer.apply(declare_params(self, layer.param_specs(layer.in_features(x))), x)


class GatedNonLinearity(nn.Module):
    """Gated fields times ``sigmoid(gate - bias)`` of trivial gates (:class:`symjax.functional.FunctionalGatedNonLinearity`).

    Output field type :attr:`out_rep` (the gated fields, or ``rep`` with ``drop_gates=False``).
    Creates ``params`` ``bias`` ``(n_gates,)`` unless ``use_bias=False``.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> G = groups.cyclic(8)
    >>> layer = GatedNonLinearity(2 * groups.Trivial(G) + 2 * groups.Irrep(G, 1))
    >>> x = jnp.ones((2, 5, 5, 6))
    >>> variables = jax.eval_shape(layer.init, jax.random.key(0), x)  # traced only: the shapes
    >>> layer.out_rep, jax.eval_shape(layer.apply, variables, x).shape
    (Rep[C8](2ψ1), (2, 5, 5, 4))
    """

    rep: Rep
    gates: Sequence[bool] | None = None
    drop_gates: bool = True
    use_bias: bool = True
    param_dtype: Any = jnp.float32
    bias_init: Initializer = nn.initializers.normal(1.0)

    @property
    def functional(self) -> F.FunctionalGatedNonLinearity:
        return F.FunctionalGatedNonLinearity(self.rep, self.gates, self.drop_gates, use_bias=self.use_bias,
                                             param_dtype=self.param_dtype, bias_init=self.bias_init)

    @property
    def out_rep(self) -> Rep:
        """The output field type."""
        return self.functional.out_rep

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        layer = self.functional
        return layer.apply(declare_params(self, layer.param_specs(layer.in_features(x))), x)


class _FieldBatchNorm(nn.Module):
    """The attributes and call of :class:`InnerBatchNorm` and :class:`NormBatchNorm` (as :class:`GroupBatchNorm`)."""

    rep: Rep
    use_running_average: bool | None = None
    momentum: float = 0.99
    epsilon: float = 1e-5
    dtype: Any = None
    param_dtype: Any = jnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Initializer = nn.initializers.zeros_init()
    scale_init: Initializer = nn.initializers.ones_init()
    axis_name: str | None = None

    def _config(self) -> dict[str, Any]:
        return dict(momentum=self.momentum, epsilon=self.epsilon, dtype=self.dtype, param_dtype=self.param_dtype,
                    use_bias=self.use_bias, use_scale=self.use_scale, bias_init=self.bias_init,
                    scale_init=self.scale_init, axis_name=self.axis_name)

    @nn.compact
    def __call__(self, x: jax.Array, use_running_average: bool | None = None) -> jax.Array:
        use_running_average = nn.merge_param("use_running_average", self.use_running_average,
                                             use_running_average)
        bn = self.functional
        n = bn.in_features(x)
        stats = {s.name: self.variable("batch_stats", s.name, s.init, None, s.shape, s.dtype)
                 for s in bn.stat_specs(n)}
        params = declare_params(self, bn.param_specs(n))
        y, updated = bn.apply(params, {name: v.value for name, v in stats.items()}, x,
                              use_running_average=use_running_average, initializing=self.is_initializing())
        for name, value in (updated or {}).items():
            stats[name].value = value
        return y


class InnerBatchNorm(_FieldBatchNorm):
    """Batch norm of permutation fields, statistics per field shared over its entries (escnn's ``InnerBatchNorm``).

    :class:`symjax.functional.FunctionalInnerBatchNorm`; arguments as :class:`GroupBatchNorm` after
    ``rep``; ``params`` ``scale``, ``bias`` and ``batch_stats`` ``mean``, ``var``, all ``(n_fields,)``.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> bn = InnerBatchNorm(3 * groups.Regular(groups.cyclic(8)), use_running_average=False)
    >>> variables = jax.eval_shape(bn.init, jax.random.key(0), jnp.ones((2, 5, 5, 24)))  # traced only: the shapes
    >>> jax.tree.map(lambda v: v.shape, variables)
    {'batch_stats': {'mean': (3,), 'var': (3,)}, 'params': {'bias': (3,), 'scale': (3,)}}
    """

    @property
    def functional(self) -> F.FunctionalInnerBatchNorm:
        return F.FunctionalInnerBatchNorm(self.rep, **self._config())


class NormBatchNorm(_FieldBatchNorm):
    """Batch norm of orthogonal fields (irreps): each divided by its RMS norm, the mean only of trivial fields.

    :class:`symjax.functional.FunctionalNormBatchNorm` (escnn's ``NormBatchNorm``/``IIDBatchNorm2d``);
    arguments as :class:`GroupBatchNorm` after ``rep``; ``params`` ``scale`` ``(n_fields,)``,
    ``bias`` ``(n_trivial,)``, ``batch_stats`` ``mean`` ``(n_trivial,)``, ``var`` ``(n_fields,)``.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> G = groups.SO(2)
    >>> bn = NormBatchNorm(groups.Trivial(G) + 2 * groups.Irrep(G, 1), use_running_average=False)
    >>> variables = jax.eval_shape(bn.init, jax.random.key(0), jnp.ones((2, 5, 5, 5)))  # traced only: the shapes
    >>> jax.tree.map(lambda v: v.shape, variables)
    {'batch_stats': {'mean': (1,), 'var': (3,)}, 'params': {'bias': (1,), 'scale': (3,)}}
    """

    @property
    def functional(self) -> F.FunctionalNormBatchNorm:
        return F.FunctionalNormBatchNorm(self.rep, **self._config())
