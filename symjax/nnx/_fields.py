"""Flax NNX layers on feature fields ``(N, H, W, rep.dim)``: the classes of :mod:`symjax.nn` ``_fields``, same names."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from symjax import functional as F
from symjax.groups import Rep
from symjax.nnx._layers import declare_params, read_params

__all__ = ["PointwiseNonLinearity", "NormNonLinearity", "GatedNonLinearity", "FourierPointwise", "NormPool",
           "FieldPool", "InnerBatchNorm", "NormBatchNorm"]

Initializer = Callable[..., jax.Array]


def _check(call: Callable[[jax.Array], jax.Array], rep: Rep) -> None:
    """Trace ``call`` on one field vector of ``rep`` (no compilation): a bad argument raises at construction."""
    F.field_types(rep)
    jax.eval_shape(call, jax.ShapeDtypeStruct((rep.dim,), jnp.float32))


class PointwiseNonLinearity(nnx.Module):
    """``fn`` on every entry of permutation fields (regular, quotient): :func:`symjax.functional.pointwise_nonlinearity`.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> PointwiseNonLinearity(3 * groups.Regular(groups.cyclic(8)))(-jnp.ones((2, 5, 5, 24))).max().item()
    0.0
    """

    def __init__(self, rep: Rep, fn: Callable[[jax.Array], jax.Array] = nnx.relu):
        _check(lambda x: F.pointwise_nonlinearity(x, rep, fn), rep)
        self.rep, self.fn = rep, fn

    def __call__(self, x: jax.Array) -> jax.Array:
        return F.pointwise_nonlinearity(x, self.rep, self.fn)


class FourierPointwise(nnx.Module):
    """``fn`` on band-limited functions on the group, sampled and projected back: :func:`symjax.functional.fourier_pointwise`.

    >>> import jax.numpy as jnp
    >>> from symjax import functional as F, groups
    >>> field = F.fourier_field(groups.O(2), 1)
    >>> FourierPointwise(field, samples=16)(jnp.ones((2, 5, 5, 3 * field.dim))).shape
    (2, 5, 5, 18)
    """

    def __init__(self, field: Rep, fn: Callable[[jax.Array], jax.Array] = nnx.relu, samples: int | None = None):
        _check(lambda x: F.fourier_pointwise(x, field, fn, samples=samples), field)
        self.field, self.fn, self.samples = field, fn, samples

    def __call__(self, x: jax.Array) -> jax.Array:
        return F.fourier_pointwise(x, self.field, self.fn, samples=self.samples)


class NormPool(nnx.Module):
    """The norm of every field, an invariant: ``(..., rep.dim) -> (..., n_fields)`` (:func:`symjax.functional.norm_pool`).

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> NormPool(4 * groups.Irrep(groups.SO(2), 1))(jnp.ones((2, 5, 5, 8))).shape
    (2, 5, 5, 4)
    """

    def __init__(self, rep: Rep):
        _check(lambda x: F.norm_pool(x, rep), rep)
        self.rep = rep

    def __call__(self, x: jax.Array) -> jax.Array:
        return F.norm_pool(x, self.rep)


class FieldPool(nnx.Module):
    """Pool every permutation field over its entries: ``(..., rep.dim) -> (..., n_fields)`` (:func:`symjax.functional.field_pool`).

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> FieldPool(3 * groups.Regular(groups.dihedral(8)), "mean")(jnp.ones((2, 5, 5, 48))).shape
    (2, 5, 5, 3)
    """

    def __init__(self, rep: Rep, reduce: str = "max"):
        _check(lambda x: F.field_pool(x, rep, reduce), rep)
        self.rep, self.reduce = rep, reduce

    def __call__(self, x: jax.Array) -> jax.Array:
        return F.field_pool(x, self.rep, self.reduce)


class _Wrapper(nnx.Module):
    """A layer with parameters: holds its functional definition and the ``nnx.Param`` s it lists."""

    def __init__(self, functional, n: int, rngs: nnx.Rngs):
        self.functional = functional
        declare_params(self, functional.param_specs(n), functional.param_names, rngs)

    @property
    def out_rep(self) -> Rep:
        """The output field type."""
        return self.functional.out_rep

    def __call__(self, x: jax.Array) -> jax.Array:
        layer = self.functional
        layer.in_features(x)
        return layer.apply(read_params(self, layer.param_names), x)


class NormNonLinearity(_Wrapper):
    """``f * function(|f| - exp(log_bias)) / |f|`` per field (:class:`symjax.functional.FunctionalNormNonLinearity`).

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from symjax import groups
    >>> layer = NormNonLinearity(4 * groups.Irrep(groups.cyclic(8), 1), rngs=nnx.Rngs(0))
    >>> layer.log_bias.shape, jax.eval_shape(layer, jnp.ones((2, 5, 5, 8))).shape  # traced only: the shape
    ((4,), (2, 5, 5, 8))
    """

    def __init__(self, rep: Rep, function: str = "n_relu", use_bias: bool = True, param_dtype: Any = jnp.float32,
                 bias_init: Initializer = nnx.initializers.zeros_init(), epsilon: float = 1e-10, *,
                 rngs: nnx.Rngs):
        layer = F.FunctionalNormNonLinearity(rep, function, use_bias=use_bias, param_dtype=param_dtype,
                                             bias_init=bias_init, epsilon=epsilon)
        super().__init__(layer, len(F.field_types(rep)), rngs)


class GatedNonLinearity(_Wrapper):
    """Gated fields times ``sigmoid(gate - bias)`` of trivial gates (:class:`symjax.functional.FunctionalGatedNonLinearity`).

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from symjax import groups
    >>> G = groups.cyclic(8)
    >>> layer = GatedNonLinearity(2 * groups.Trivial(G) + 2 * groups.Irrep(G, 1), rngs=nnx.Rngs(0))
    >>> layer.out_rep, jax.eval_shape(layer, jnp.ones((2, 5, 5, 6))).shape  # traced only: the shape
    (Rep[C8](2ψ1), (2, 5, 5, 4))
    """

    def __init__(self, rep: Rep, gates: Sequence[bool] | None = None, drop_gates: bool = True,
                 use_bias: bool = True, param_dtype: Any = jnp.float32,
                 bias_init: Initializer = nnx.initializers.normal(1.0), *, rngs: nnx.Rngs):
        layer = F.FunctionalGatedNonLinearity(rep, gates, drop_gates, use_bias=use_bias, param_dtype=param_dtype,
                                              bias_init=bias_init)
        super().__init__(layer, layer.n_gates, rngs)


class _FieldBatchNorm(nnx.Module):
    """The call of :class:`InnerBatchNorm` and :class:`NormBatchNorm` (as :class:`GroupBatchNorm`)."""

    def __init__(self, functional, use_running_average: bool, rngs: nnx.Rngs):
        self.functional = functional
        self.use_running_average = use_running_average
        n = len(F.field_types(functional.rep))
        specs = {s.name: s for s in functional.stat_specs(n)}
        for name in functional.stat_names:
            s = specs.get(name)
            setattr(self, name, None if s is None else nnx.BatchStat(s.init(None, s.shape, s.dtype)))
        declare_params(self, functional.param_specs(n), functional.param_names, rngs)

    @property
    def out_rep(self) -> Rep:
        """The output field type: ``rep``."""
        return self.functional.rep

    def __call__(self, x: jax.Array, use_running_average: bool | None = None) -> jax.Array:
        bn = self.functional
        bn.in_features(x)
        if use_running_average is None:
            use_running_average = self.use_running_average
        stats = {name: getattr(self, name)[...] for name in bn.stat_names if getattr(self, name) is not None}
        y, updated = bn.apply(read_params(self, bn.param_names), stats, x, use_running_average=use_running_average)
        for name, value in (updated or {}).items():
            getattr(self, name)[...] = value
        return y


def _bn_config(momentum, epsilon, dtype, param_dtype, use_bias, use_scale, bias_init, scale_init, axis_name):
    return dict(momentum=momentum, epsilon=epsilon, dtype=dtype, param_dtype=param_dtype, use_bias=use_bias,
                use_scale=use_scale, bias_init=bias_init, scale_init=scale_init, axis_name=axis_name)


class InnerBatchNorm(_FieldBatchNorm):
    """Batch norm of permutation fields, statistics per field shared over its entries (escnn's ``InnerBatchNorm``).

    :class:`symjax.functional.FunctionalInnerBatchNorm`; arguments as :class:`GroupBatchNorm`
    with ``rep`` in place of ``num_features``; ``model.eval()`` / ``model.train()`` switch
    ``use_running_average``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from symjax import groups
    >>> bn = InnerBatchNorm(3 * groups.Regular(groups.cyclic(8)), rngs=nnx.Rngs(0))
    >>> y = nnx.jit(lambda bn, x: bn(x))(bn, jnp.ones((2, 5, 5, 24)))  # updates bn.mean and bn.var
    >>> y.shape, bn.mean.shape
    ((2, 5, 5, 24), (3,))
    """

    def __init__(self, rep: Rep, *, use_running_average: bool = False, momentum: float = 0.99,
                 epsilon: float = 1e-5, dtype: Any = None, param_dtype: Any = jnp.float32, use_bias: bool = True,
                 use_scale: bool = True, bias_init: Initializer = nnx.initializers.zeros_init(),
                 scale_init: Initializer = nnx.initializers.ones_init(), axis_name: str | None = None,
                 rngs: nnx.Rngs):
        config = _bn_config(momentum, epsilon, dtype, param_dtype, use_bias, use_scale, bias_init, scale_init,
                            axis_name)
        super().__init__(F.FunctionalInnerBatchNorm(rep, **config), use_running_average, rngs)


class NormBatchNorm(_FieldBatchNorm):
    """Batch norm of orthogonal fields (irreps): each divided by its RMS norm, the mean only of trivial fields.

    :class:`symjax.functional.FunctionalNormBatchNorm`; arguments as :class:`InnerBatchNorm`.
    Without trivial fields ``bias`` and ``mean`` are ``None``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from symjax import groups
    >>> bn = NormBatchNorm(2 * groups.Irrep(groups.SO(2), 1), rngs=nnx.Rngs(0))
    >>> nnx.eval_shape(lambda bn, x: bn(x), bn, jnp.ones((2, 5, 5, 4))).shape, bn.var.shape, bn.mean
    ((2, 5, 5, 4), (2,), None)
    """

    def __init__(self, rep: Rep, *, use_running_average: bool = False, momentum: float = 0.99,
                 epsilon: float = 1e-5, dtype: Any = None, param_dtype: Any = jnp.float32, use_bias: bool = True,
                 use_scale: bool = True, bias_init: Initializer = nnx.initializers.zeros_init(),
                 scale_init: Initializer = nnx.initializers.ones_init(), axis_name: str | None = None,
                 rngs: nnx.Rngs):
        config = _bn_config(momentum, epsilon, dtype, param_dtype, use_bias, use_scale, bias_init, scale_init,
                            axis_name)
        super().__init__(F.FunctionalNormBatchNorm(rep, **config), use_running_average, rngs)
