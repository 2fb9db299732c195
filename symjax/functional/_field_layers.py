"""Layer definitions over feature fields ``(N, ..., rep.dim)``: norm and gated nonlinearities, batch norms.

Each is a functional definition (``docs/adding_a_layer.md``) that :mod:`symjax.nn` and
:mod:`symjax.nnx` wrap: :class:`FunctionalNormNonLinearity` (escnn's ``NormNonLinearity``),
:class:`FunctionalGatedNonLinearity` (``GatedNonLinearity1``), :class:`FunctionalInnerBatchNorm`
(``InnerBatchNorm``: permutation fields, statistics shared over each field's entries, by
:class:`~symjax.functional.FunctionalGroupBatchNorm`) and :class:`FunctionalNormBatchNorm`
(escnn's ``IIDBatchNorm``/``NormBatchNorm``: each field divided by its root-mean-square norm, the
mean subtracted only from trivial fields).
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from symjax.functional._fields import (
    NORM_FUNCTIONS,
    assemble,
    check_field_rep,
    check_fields,
    gate_layout,
    gated_nonlinearity,
    gated_rep,
    is_orthogonal,
    is_permutation,
    is_trivial,
    layout,
    norm_nonlinearity,
    require,
    segments,
)
from symjax.functional._layer import Initializer, ParamSpec
from symjax.functional._norm import FunctionalGroupBatchNorm
from symjax.groups import Rep

__all__ = ["FunctionalNormNonLinearity", "FunctionalGatedNonLinearity", "FunctionalInnerBatchNorm",
           "FunctionalNormBatchNorm"]


def _check_map(x, rep: Rep, name: str) -> jax.Array:
    x = check_fields(x, rep, name)
    if x.ndim < 2:
        raise ValueError(f"{name} expects a batch of field maps (N, ..., {rep.dim}), got shape {x.shape}")
    return x


@dataclasses.dataclass(frozen=True)
class FunctionalNormNonLinearity:
    """Norm nonlinearity with a learnable bias per field: ``f * function(|f| - exp(log_bias)) / |f|``.

    As escnn's ``NormNonLinearity``: the parameter is ``log_bias`` ``(n_fields,)`` (zeros: every
    bias starts at 1), see :func:`symjax.functional.norm_nonlinearity`.

    Args:
      rep: the field type (every field orthogonal).
      function: ``"n_relu"``, ``"n_sigmoid"``, ``"n_softplus"`` or ``"squash"`` (no bias).
      use_bias: learn ``log_bias``; must be False for ``"squash"``.
      param_dtype, bias_init: of ``log_bias``.
      epsilon: norms at or below it give zero.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> layer = FunctionalNormNonLinearity(2 * groups.Irrep(groups.SO(2), 1))
    >>> [(s.name, s.shape) for s in layer.param_specs(layer.in_features(jnp.ones((1, 4))))]
    [('log_bias', (2,))]
    >>> layer.apply({"log_bias": jnp.zeros(2)}, jnp.array([[0.0, 5.0, 0.0, 0.5]])).tolist()
    [[0.0, 4.0, 0.0, 0.0]]
    """

    name: ClassVar[str] = "NormNonLinearity"
    param_names: ClassVar[tuple[str, ...]] = ("log_bias",)

    rep: Rep
    function: str = "n_relu"
    use_bias: bool = True
    param_dtype: Any = jnp.float32
    bias_init: Initializer = jax.nn.initializers.zeros
    epsilon: float = 1e-10

    def __post_init__(self):
        require(self.rep, is_orthogonal, "orthogonal (its norm invariant)", self.name)
        if self.function not in NORM_FUNCTIONS:
            raise ValueError(f"{self.name} expects function in {sorted(NORM_FUNCTIONS)}, got {self.function!r}")
        if self.function == "squash" and self.use_bias:
            raise ValueError(f"{self.name} with function='squash' takes no bias (as escnn): pass use_bias=False")

    @property
    def out_rep(self) -> Rep:
        """The output field type: ``rep``."""
        return self.rep

    def in_features(self, x) -> int:
        """Checks ``x`` ``(N, ..., rep.dim)``; returns the number of fields."""
        _check_map(x, self.rep, self.name)
        return len(layout(check_field_rep(self.rep, self.name)).fields)

    def param_specs(self, n_fields: int) -> tuple[ParamSpec, ...]:
        return (ParamSpec("log_bias", (n_fields,), self.bias_init, self.param_dtype),) if self.use_bias else ()

    def apply(self, params: Mapping[str, jax.Array], x) -> jax.Array:
        bias = jnp.exp(params["log_bias"]) if self.use_bias else None
        return norm_nonlinearity(x, self.rep, bias, self.function, epsilon=self.epsilon)


@dataclasses.dataclass(frozen=True)
class FunctionalGatedNonLinearity:
    """Gated nonlinearity with a learnable bias per gate: gated field ``k`` times ``sigmoid(gate_k - bias_k)``.

    As escnn's ``GatedNonLinearity1`` (parameter ``bias`` ``(n_gates,)``, standard normal at
    init), see :func:`symjax.functional.gated_nonlinearity`.

    Args:
      rep: the input field type: trivial gates and gated fields.
      gates: one boolean per field (True: a gate); default: the first half of the fields.
      drop_gates: output only the gated fields (``out_rep``), else the gates too.
      use_bias, param_dtype, bias_init: the gates' bias.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> G = groups.cyclic(8)
    >>> layer = FunctionalGatedNonLinearity(2 * groups.Trivial(G) + 2 * groups.Irrep(G, 1))
    >>> layer.out_rep, layer.apply({"bias": jnp.zeros(2)}, jnp.zeros((1, 6))).shape
    (Rep[C8](2ψ1), (1, 4))
    """

    name: ClassVar[str] = "GatedNonLinearity"
    param_names: ClassVar[tuple[str, ...]] = ("bias",)

    rep: Rep
    gates: Sequence[bool] | None = None
    drop_gates: bool = True
    use_bias: bool = True
    param_dtype: Any = jnp.float32
    bias_init: Initializer = jax.nn.initializers.normal(1.0)

    def __post_init__(self):
        if self.gates is not None:
            object.__setattr__(self, "gates", tuple(bool(g) for g in self.gates))
        gate_layout(self.rep, self.gates, self.name)

    @property
    def n_gates(self) -> int:
        return len(gate_layout(self.rep, self.gates, self.name)[0])

    @property
    def out_rep(self) -> Rep:
        """The output field type (:func:`symjax.functional.gated_rep`)."""
        return gated_rep(self.rep, self.gates, self.drop_gates)

    def in_features(self, x) -> int:
        """Checks ``x`` ``(N, ..., rep.dim)``; returns the number of gates."""
        _check_map(x, self.rep, self.name)
        return self.n_gates

    def param_specs(self, n_gates: int) -> tuple[ParamSpec, ...]:
        return (ParamSpec("bias", (n_gates,), self.bias_init, self.param_dtype),) if self.use_bias else ()

    def apply(self, params: Mapping[str, jax.Array], x) -> jax.Array:
        return gated_nonlinearity(x, self.rep, params.get("bias"), gates=self.gates, drop_gates=self.drop_gates)


@dataclasses.dataclass(frozen=True)
class _FieldBatchNormConfig:
    """The arguments of :class:`flax.linen.BatchNorm` that both field batch norms take, after ``rep``."""

    param_names: ClassVar[tuple[str, ...]] = ("scale", "bias")
    stat_names: ClassVar[tuple[str, ...]] = ("mean", "var")

    rep: Rep
    momentum: float = 0.99
    epsilon: float = 1e-5
    dtype: Any = None
    param_dtype: Any = jnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Initializer = jax.nn.initializers.zeros
    scale_init: Initializer = jax.nn.initializers.ones
    axis_name: str | None = None

    @property
    def out_rep(self) -> Rep:
        """The output field type: ``rep``."""
        return self.rep


@dataclasses.dataclass(frozen=True)
class FunctionalInnerBatchNorm(_FieldBatchNormConfig):
    """Batch norm of permutation fields (regular, quotient), one mean and variance per field (escnn's ``InnerBatchNorm``).

    Each field's statistics are shared over its entries, which the group permutes, so the
    normalisation is exactly equivariant. Parameters ``scale``, ``bias`` and statistics ``mean``,
    ``var``, all ``(n_fields,)``. Fields of one size are normalised by
    :class:`~symjax.functional.FunctionalGroupBatchNorm` on ``(N, ..., n_fields, size)``, so with
    ``rep = C * groups.Regular(G)`` this is ``GroupBatchNorm`` on ``x.reshape(N, H, W, C, |G|)``.

    Args:
      rep: the field type; every field a permutation representation.
      momentum, epsilon, dtype, param_dtype, use_bias, use_scale, bias_init, scale_init, axis_name:
        as :class:`flax.linen.BatchNorm`.

    >>> import functools, jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> G = groups.dihedral(4)
    >>> bn = FunctionalInnerBatchNorm(2 * groups.Regular(G) + groups.Quotient(G, [0, 4]))
    >>> x = jnp.ones((10, 20))
    >>> params = {s.name: s.init(jax.random.key(0), s.shape, s.dtype) for s in bn.param_specs(bn.in_features(x))}
    >>> stats = {s.name: s.init(None, s.shape, s.dtype) for s in bn.stat_specs(3)}
    >>> y, new_stats = jax.jit(functools.partial(bn.apply, use_running_average=False))(params, stats, x)
    >>> y.shape, new_stats["var"].shape
    ((10, 20), (3,))
    """

    name: ClassVar[str] = "InnerBatchNorm"

    def __post_init__(self):
        require(self.rep, is_permutation, "a permutation representation (Regular, Quotient, Permutation, "
                "Trivial): use NormBatchNorm for irreps", self.name)

    @property
    def group_batch_norm(self) -> FunctionalGroupBatchNorm:
        """The batch norm applied to the fields of each size."""
        return FunctionalGroupBatchNorm(
            momentum=self.momentum, epsilon=self.epsilon, dtype=self.dtype, param_dtype=self.param_dtype,
            use_bias=self.use_bias, use_scale=self.use_scale, bias_init=self.bias_init, scale_init=self.scale_init,
            axis_name=self.axis_name)

    def in_features(self, x) -> int:
        """Checks ``x`` ``(N, ..., rep.dim)``; returns the number of fields."""
        _check_map(x, self.rep, self.name)
        return len(require(self.rep, is_permutation, "a permutation representation", self.name).fields)

    def param_specs(self, n_fields: int) -> tuple[ParamSpec, ...]:
        return self.group_batch_norm.param_specs(n_fields)

    def stat_specs(self, n_fields: int) -> tuple[ParamSpec, ...]:
        return self.group_batch_norm.stat_specs(n_fields)

    def apply(self, params: Mapping[str, jax.Array], stats: Mapping[str, jax.Array], x, *,
              use_running_average: bool, initializing: bool = False
              ) -> tuple[jax.Array, dict[str, jax.Array] | None]:
        """Normalise ``x``; returns ``(y, new_stats)`` as :meth:`FunctionalGroupBatchNorm.apply`."""
        lay = require(self.rep, is_permutation, "a permutation representation", self.name)
        x = _check_map(x, self.rep, self.name)
        bn, parts, updated = self.group_batch_norm, [], {name: stats[name] for name in self.stat_names}
        for _, chunk, which in segments(x, lay):
            sub = lambda tree: {k: v[which] for k, v in tree.items()}  # noqa: E731
            y, new = bn.apply(sub(params), sub(stats), chunk, use_running_average=use_running_average,
                              initializing=initializing)
            parts.append((y, which))
            for name, value in (new or {}).items():
                updated[name] = updated[name].at[which].set(value)
        changed = not use_running_average and not initializing
        return assemble(parts, lay, x.shape[:-1]), (updated if changed else None)


@dataclasses.dataclass(frozen=True)
class FunctionalNormBatchNorm(_FieldBatchNormConfig):
    """Batch norm of fields of any orthogonal type (irreps): each field divided by its root-mean-square norm.

    For field ``i`` of dimension ``d_i``: ``var_i = E[|f_i - m_i|^2] / d_i`` over batch and space,
    ``y_i = (f_i - m_i) / sqrt(var_i + epsilon) * scale_i + b_i``, where the mean ``m_i`` and the
    bias ``b_i`` exist only for trivial fields (on any other field a mean is not equivariant), as
    escnn's ``IIDBatchNorm2d``/``NormBatchNorm``. Parameters: ``scale`` ``(n_fields,)``, ``bias``
    ``(n_trivial,)``; statistics: ``mean`` ``(n_trivial,)``, ``var`` ``(n_fields,)`` (float32;
    ``bias`` and ``mean`` are absent without trivial fields).

    Args:
      rep: the field type; every field orthogonal.
      momentum, epsilon, dtype, param_dtype, use_bias, use_scale, bias_init, scale_init, axis_name:
        as :class:`flax.linen.BatchNorm`.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> G = groups.SO(2)
    >>> bn = FunctionalNormBatchNorm(groups.Trivial(G) + 2 * groups.Irrep(G, 1))
    >>> [(s.name, s.shape) for s in bn.param_specs(bn.in_features(jnp.ones((2, 5))))]
    [('scale', (3,)), ('bias', (1,))]
    >>> [(s.name, s.shape) for s in bn.stat_specs(3)]
    [('mean', (1,)), ('var', (3,))]
    """

    name: ClassVar[str] = "NormBatchNorm"

    def __post_init__(self):
        require(self.rep, is_orthogonal, "orthogonal (its norm invariant)", self.name)

    @property
    def trivial(self) -> np.ndarray:
        """The indices of the trivial fields."""
        return np.flatnonzero([is_trivial(f) for f in require(self.rep, is_orthogonal, "orthogonal", self.name).fields])

    def in_features(self, x) -> int:
        """Checks ``x`` ``(N, ..., rep.dim)``; returns the number of fields."""
        _check_map(x, self.rep, self.name)
        return len(require(self.rep, is_orthogonal, "orthogonal", self.name).fields)

    def param_specs(self, n_fields: int) -> tuple[ParamSpec, ...]:
        specs = (ParamSpec("scale", (n_fields,), self.scale_init, self.param_dtype),) if self.use_scale else ()
        if self.use_bias and len(self.trivial):
            specs += (ParamSpec("bias", (len(self.trivial),), self.bias_init, self.param_dtype),)
        return specs

    def stat_specs(self, n_fields: int) -> tuple[ParamSpec, ...]:
        specs = (ParamSpec("mean", (len(self.trivial),), jax.nn.initializers.zeros, jnp.float32, keyed=False),)
        return specs[:1 if len(self.trivial) else 0] + (
            ParamSpec("var", (n_fields,), jax.nn.initializers.ones, jnp.float32, keyed=False),)

    def moments(self, x: jax.Array, *, axis_name: str | None = None) -> tuple[jax.Array, jax.Array]:
        """The batch's ``mean`` ``(n_trivial,)`` and ``var`` ``(n_fields,)``, in at least float32."""
        lay = require(self.rep, is_orthogonal, "orthogonal", self.name)
        x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
        axes = tuple(range(x.ndim - 1))
        offsets = np.asarray(lay.offsets)[self.trivial]
        mean, mean2 = jnp.mean(x[..., offsets], axis=axes), jnp.mean(jnp.square(x), axis=axes)
        if axis_name is not None:
            mean, mean2 = lax.pmean((mean, mean2), axis_name)
        per_field = jax.ops.segment_sum(mean2, jnp.asarray(lay.channel_field), len(lay.fields))
        per_field = per_field.at[self.trivial].add(-jnp.square(mean))
        return mean, jnp.maximum(per_field / np.asarray(lay.dims), 0.0)

    def apply(self, params: Mapping[str, jax.Array], stats: Mapping[str, jax.Array], x, *,
              use_running_average: bool, initializing: bool = False
              ) -> tuple[jax.Array, dict[str, jax.Array] | None]:
        """Normalise ``x``; returns ``(y, new_stats)``, ``new_stats`` ``None`` when nothing is updated."""
        lay = require(self.rep, is_orthogonal, "orthogonal", self.name)
        x = _check_map(x, self.rep, self.name)
        has_mean = len(self.trivial) > 0
        if use_running_average:
            mean, var, updated = stats.get("mean"), stats["var"], None
        else:
            mean, var = self.moments(x, axis_name=None if initializing else self.axis_name)
            updated = None if initializing else {
                name: self.momentum * stats[name] + (1 - self.momentum) * value
                for name, value in (("mean", mean), ("var", var)) if name == "var" or has_mean}
        args = [a for a in (x, params.get("scale"), params.get("bias")) if a is not None]
        out_dtype = self.dtype if self.dtype is not None else jnp.result_type(*args)
        mul = lax.rsqrt(jnp.asarray(var, jnp.float32) + self.epsilon)
        if "scale" in params:
            mul = mul * params["scale"]
        y = x * mul[lay.channel_field]
        if has_mean:  # (x - mean) * mul + bias on the trivial channels: one shift vector (rep.dim,)
            shift = -mean * mul[self.trivial] + params["bias"] if "bias" in params else -mean * mul[self.trivial]
            y = y + jnp.zeros(self.rep.dim, shift.dtype).at[np.asarray(lay.offsets)[self.trivial]].set(shift)
        return y.astype(out_dtype), updated
