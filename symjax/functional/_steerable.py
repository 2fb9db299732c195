"""Steerable convolutions: kernels expanded from coefficients over a steerable basis, then one convolution.

:class:`FunctionalSteerableConv` maps fields of any type ``in_rep`` to fields of
any type ``out_rep`` of a planar group (``(N, H, W, in_rep.dim) -> (N, H', W',
out_rep.dim)``, escnn's ``R2Conv``); :class:`FunctionalSteerableLiftingConv` and
:class:`FunctionalSteerableGroupConv` are the lifting and group convolutions of
:mod:`symjax.nn` with their kernel in the steerable basis of the regular
representation (the default of ``LiftingConv``/``GroupConv`` for the groups that
are not exact on the pixel grid). One coefficient per basis element
(:mod:`symjax.functional` ``steerable_basis``), expanded by one einsum per pair of
field types into a plain kernel, one ``lax.conv_general_dilated``; the export
folds the expansion (:meth:`FunctionalConv.expand`).

Initialisation (escnn's generalised He, computed from the basis): the coefficients
of each pair of field types are normal with the variance that gives every output
component the response ``E[sum_inputs (sum_taps kernel)^2] = 2`` to constant inputs
(``E[sum_(taps, inputs) kernel^2] = 2`` where the white response is larger), split
over the input field types by their dimension: smooth kernels answer the smooth
feature maps of a network more strongly than white noise (``HE_GAIN`` in the basis
module), so C8/C16 networks keep the activation scale of C4 networks. The draws
come from one compiled program for all the layers (``_steerable_init``).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, ClassVar, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from symjax.functional._checks import (
    Padding,
    canonical_kernel_size,
    canonical_padding,
    canonical_strides,
    check_features,
    check_rank,
    report_causes,
)
from symjax.functional._conv_layer import FunctionalGroupConv, FunctionalLiftingConv, FunctionalConv
from symjax.functional._layer import ParamSpec, promote_dtype
from symjax.functional._steerable_basis import (
    Block,
    Plan,
    RingSettings,
    check_planar,
    expand_kernel,
    plan,
    ring_settings,
)
from symjax.functional._steerable_init import normal_init
from symjax.geometry import (
    equivariance_pitfalls,
    exact_groups,
    is_exact_on_grid,
    is_planar,
)
from symjax.groups import FiniteGroup, Regular, Rep, Trivial

__all__ = ["FunctionalSteerableConv", "FunctionalSteerableLiftingConv", "FunctionalSteerableGroupConv",
           "steerable_conv", "regular_conv", "BASES", "grid_subgroup", "check_steerable_config"]

Params = Mapping[str, jax.Array]

# -- the grid subgroup and the configuration check -------------------------------------------------------

@functools.lru_cache(maxsize=None)
def grid_subgroup(G) -> FiniteGroup:
    """The largest group of :func:`symjax.geometry.exact_groups` inside the planar group ``G`` (by matrices).

    >>> from symjax import groups
    >>> grid_subgroup(groups.dihedral(8)).name, grid_subgroup(groups.cyclic(6)).name, grid_subgroup(groups.SO(2)).name
    ('D4', 'C2', 'C4')
    """
    if isinstance(G, FiniteGroup):
        mats = np.asarray(G.matrices, np.float64)
        exact = {tuple(np.round(m).astype(int).ravel()) for m in mats if np.abs(m - np.round(m)).max() < 1e-9}
    else:
        exact = None
    best = exact_groups()[0]
    for H in exact_groups():
        inside = {tuple(np.round(m).astype(int).ravel()) for m in H.matrices}
        fits = (G.kind == "O" or np.linalg.det(H.matrices).min() > 0) if exact is None else inside <= exact
        if fits and H.order > best.order:
            best = H
    return best


@functools.lru_cache(maxsize=256)
def _causes(G, input_shape, kernel_size, strides, padding) -> tuple[str, ...]:
    H = grid_subgroup(G)
    causes = [] if isinstance(G, FiniteGroup) and G.order == H.order else [
        f"{G.name} is not exact on the pixel grid: its steerable kernels are sampled on the grid, so equivariance is "
        f"exact for the elements that map the grid onto itself ({H.name}: multiples of 90 degrees, the flips) and "
        f"approximate for the others"]
    return tuple(causes + equivariance_pitfalls(H, input_shape, kernel_size, strides, padding))


def check_steerable_config(G, input_shape, kernel_size, strides, padding, fn: str, strict: bool) -> None:
    """Warn :class:`~symjax.geometry.EquivarianceWarning` (or raise ``ValueError`` with ``strict``) naming the causes."""
    if not all(isinstance(n, int) for n in tuple(input_shape) + tuple(kernel_size)):
        return
    causes = _causes(G, tuple(input_shape), tuple(kernel_size), tuple(strides), padding)
    report_causes(causes, G, input_shape, kernel_size, strides, padding, fn, strict, stacklevel=4)


def _convolve(x, kernel, strides, padding, precision):
    return lax.conv_general_dilated(x, kernel, window_strides=strides, padding=padding,
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=precision)


@functools.partial(jax.jit, static_argnums=0)
def _apply(layer, params, x, kernel=None):
    """``layer.apply`` compiled once per configuration and shape (an eager ``init`` then compiles one program per
    layer kind instead of one per operation); inlined into the caller's program under ``jit``."""
    return layer.apply_traced(params, x, kernel)


@functools.partial(jax.jit, static_argnums=0)
def _kernel(layer, params):
    return layer.kernel(params)


def _constant_kernel(layer, params: Params, x) -> jax.Array | None:
    """The kernel, expanded now by a compiled program, when a trace holds the weights as constants (a ``jit``
    that closes over the parameters); else ``None`` (expanded in the program).

    XLA would fold the constant expansion at compile time through its evaluator: seconds per layer (the
    D16 group conv of 8 fields: 1.5-4 s), against milliseconds compiled.
    """
    if isinstance(params.get("weights"), jax.core.Tracer) or not isinstance(x, jax.core.Tracer):
        return None
    with jax.ensure_compile_time_eval():
        return _kernel(layer, dict(params))


def _canonical(value):
    """Lists in the basis settings as tuples (the definition is hashable)."""
    return tuple(value) if isinstance(value, (list, tuple, np.ndarray)) else value


# -- the general steerable convolution -------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FunctionalSteerableConv(FunctionalConv):
    """Steerable convolution ``(N, H, W, in_rep.dim) -> (N, H', W', out_rep.dim)`` between field types (escnn's ``R2Conv``).

    Parameters: ``weights`` ``(B,)``, one coefficient per element of the steerable basis
    of every pair of summands (``steerable_basis``: rings times circular harmonics,
    band-limited), and with ``use_bias`` ``bias`` ``(n,)``, one per invariant direction of
    each output summand (the trivial components; none: the bias is zero). The kernel
    ``(kh, kw, in_rep.dim, out_rep.dim)`` is expanded by one einsum per pair of summand
    types and applied by one convolution; ``k(g x) = rho_out(g) k(x) rho_in(g)^-1``,
    exactly for the elements that map the pixel grid onto itself.

    Args:
      in_rep, out_rep: representations (field types) of one planar group: ``cyclic(n)``,
        ``dihedral(n)``, ``SO(2)``, ``O(2)``; direct sums are solved summand by summand
        (``Regular`` summands in closed form).
      kernel_size: ``k`` or ``(k, k)``.
      strides, padding, precision: as :func:`~symjax.functional.lifting_conv`.
      use_bias: a bias on the invariant components of the output.
      dtype, param_dtype: computation and parameter dtypes.
      strict: a configuration that cannot be exactly equivariant (a group not exact on the
        grid, an off-centre stride or padding, ...) raises instead of warning
        :class:`symjax.EquivarianceWarning`.
      rings, sigma, max_frequency: the radial profile and band limit
        (``steerable_basis``: escnn's band limit; the outer ring of odd kernels >= 5x5 pulled in).

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> C4 = groups.cyclic(4)
    >>> conv = FunctionalSteerableConv(groups.Irrep(C4, 1) + groups.Trivial(C4), 2 * groups.Irrep(C4, 1))
    >>> [(s.name, s.shape) for s in conv.param_specs(3)]
    [('weights', (20,))]
    >>> params = {s.name: s.init(jax.random.key(0), s.shape, s.dtype) for s in conv.param_specs(3)}
    >>> conv.apply(params, jnp.ones((2, 7, 7, 3))).shape
    (2, 7, 7, 4)
    """

    name: ClassVar[str] = "SteerableConv"
    param_names: ClassVar[tuple[str, ...]] = ("weights", "bias")

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

    def __post_init__(self):
        for argname in ("in_rep", "out_rep"):
            if not isinstance(getattr(self, argname), Rep):
                raise TypeError(f"{self.name} expects {argname} to be a symjax.groups.Rep, got "
                                f"{type(getattr(self, argname)).__name__}")
        if self.in_rep.group != self.out_rep.group:
            raise ValueError(f"{self.name} expects in_rep and out_rep of one group, got {self.in_rep.group.name} and "
                             f"{self.out_rep.group.name}")
        check_planar(self.in_rep.group)
        object.__setattr__(self, "kernel_size", canonical_kernel_size(self.kernel_size, self.name))
        object.__setattr__(self, "strides", canonical_strides(self.strides, self.name))
        object.__setattr__(self, "padding", canonical_padding(self.padding, self.name))
        for field in ("rings", "sigma", "max_frequency"):
            object.__setattr__(self, field, _canonical(getattr(self, field)))
        self.settings  # validates the basis settings now

    @property
    def settings(self) -> RingSettings:
        """The canonical radial profile and band limit of the basis."""
        return ring_settings(self.kernel_size, self.rings, self.sigma, self.max_frequency)

    @property
    def plan(self) -> Plan:
        return plan(self.in_rep, self.out_rep, self.settings)

    @property
    def group(self):
        return self.in_rep.group

    input_rank: ClassVar[int] = 4

    @property
    def plain_features(self) -> int:
        return self.out_rep.dim

    def in_features(self, x) -> int:
        x = check_rank(x, 4, self.name, "(N, H, W, in_rep.dim)")
        if x.shape[-1] != self.in_rep.dim:
            raise ValueError(f"{self.name} expects x with in_rep.dim = {self.in_rep.dim} channels (the last axis), "
                             f"got shape {x.shape}")
        return x.shape[-1]

    def param_specs(self, in_features: int) -> tuple[ParamSpec, ...]:
        check_features(in_features, self.name, "in_features (the input channels)")
        if in_features != self.in_rep.dim:
            raise ValueError(f"{self.name} expects in_features = in_rep.dim = {self.in_rep.dim}, got {in_features}")
        p = self.plan
        stds = tuple((math.prod(b.shape), b.std) for b in p.blocks)
        specs = (ParamSpec("weights", (p.size,), normal_init(stds), self.param_dtype),)
        if self.use_bias and len(p.bias_matrix):
            specs += (ParamSpec("bias", (len(p.bias_matrix),), jax.nn.initializers.zeros, self.param_dtype),)
        return specs

    def kernel(self, params: Params) -> jax.Array:
        """The plain kernel ``(kh, kw, in_rep.dim, out_rep.dim)``."""
        return expand_kernel(self.plan, params["weights"], self.kernel_size[0])

    def bias_vector(self, params: Params) -> jax.Array | None:
        """The bias ``(out_rep.dim,)`` on the invariant components, or ``None``."""
        if params.get("bias") is None:
            return None
        return params["bias"] @ jnp.asarray(self.plan.bias_matrix, params["bias"].dtype)

    def apply(self, params: Params, x) -> jax.Array:
        self.in_features(x)
        check_steerable_config(self.group, jnp.shape(x)[1:3], self.kernel_size, self.strides, self.padding,
                               self.name, self.strict)
        return _apply(self, dict(params), x, _constant_kernel(self, params, x))

    def apply_traced(self, params: Params, x, kernel: jax.Array | None = None) -> jax.Array:
        """:meth:`apply` itself (``apply`` runs it under one ``jax.jit``), with ``kernel`` if already expanded."""
        kernel = self.kernel(params) if kernel is None else kernel
        x, kernel, bias = promote_dtype(x, kernel, self.bias_vector(params), dtype=self.dtype)
        y = _convolve(x, kernel, self.strides, self.padding, self.precision)
        return y if bias is None else y + bias

    def expand(self, params: Params) -> dict[str, jax.Array]:
        plain = {"kernel": self.kernel(params)}
        if self.use_bias:
            bias = self.bias_vector(params)
            plain["bias"] = jnp.zeros(self.out_rep.dim, plain["kernel"].dtype) if bias is None else bias
        return plain

    def flatten_input(self, x) -> jax.Array:
        self.in_features(x)
        return jnp.asarray(x)

    def unflatten_output(self, y: jax.Array) -> jax.Array:
        return y

    def is_group_map(self, y) -> bool:
        return False

    def input_like(self, x, params: Params) -> jax.Array:
        return jnp.zeros(x.shape[:3] + (self.in_rep.dim,), x.dtype)


def steerable_conv(x: jax.Array, weights: jax.Array, in_rep: Rep, out_rep: Rep, *,
                   kernel_size: int | Sequence[int] = 3, strides=1, padding: Padding = "SAME",
                   bias: jax.Array | None = None, precision=None, strict: bool = False,
                   rings: Sequence[float] | None = None, sigma: float | Sequence[float] | None = None,
                   max_frequency: int | Sequence[int] | None = None) -> jax.Array:
    """Steerable convolution of ``in_rep`` fields to ``out_rep`` fields from basis coefficients.

    Args:
      x: ``(N, H, W, in_rep.dim)``.
      weights: ``(B,)`` coefficients (the ``weights`` of :class:`FunctionalSteerableConv`).
      in_rep, out_rep, kernel_size, strides, padding, precision, strict, rings, sigma,
        max_frequency: as :class:`FunctionalSteerableConv`.
      bias: optional ``(n,)`` coefficients of the output's invariant directions.

    Returns:
      ``(N, H', W', out_rep.dim)``.

    >>> import jax.numpy as jnp
    >>> from symjax import actions, groups
    >>> C4 = groups.cyclic(4)
    >>> psi = groups.Irrep(C4, 1)  # vectors: a quarter turn rotates the field's value too
    >>> x = jnp.sin(jnp.arange(98.0)).reshape(1, 7, 7, 2)
    >>> w = jnp.cos(jnp.arange(8.0))
    >>> y = steerable_conv(x, w, psi, psi)
    >>> turn = lambda f: jnp.rot90(f, 1, axes=(1, 2)) @ psi.rho(1).T
    >>> bool(jnp.allclose(steerable_conv(turn(x), w, psi, psi), turn(y), atol=1e-5))
    True
    """
    layer = FunctionalSteerableConv(in_rep, out_rep, kernel_size, strides, padding, bias is not None,
                                    precision=precision, strict=strict, rings=rings, sigma=sigma,
                                    max_frequency=max_frequency)
    if jnp.shape(weights) != (layer.plan.size,):
        raise ValueError(f"steerable_conv expects weights of shape ({layer.plan.size},) for {in_rep!r} -> "
                         f"{out_rep!r}, got {jnp.shape(weights)}")
    params = {"weights": jnp.asarray(weights)}
    if bias is not None:
        params["bias"] = jnp.asarray(bias)
    return layer.apply(params, x)


# -- the lifting and group convolutions in the steerable basis ---------------------------------------------

class _SteerableRegular:
    """Shared by the steerable lifting and group convolutions: ``weights`` instead of ``kernel``."""

    param_names: ClassVar[tuple[str, ...]] = ("weights", "bias")

    def __post_init__(self):
        super().__post_init__()
        for field in ("rings", "sigma", "max_frequency"):
            object.__setattr__(self, field, _canonical(getattr(self, field)))
        ring_settings(self.kernel_size, self.rings, self.sigma, self.max_frequency)

    def _plan(self, in_features: int) -> Plan:
        G = self.group
        settings = ring_settings(self.kernel_size, self.rings, self.sigma, self.max_frequency)
        return plan(self.field_type(in_features), self.out_features * Regular(G), settings)

    def param_specs(self, in_features: int) -> tuple[ParamSpec, ...]:
        check_features(in_features, self.name, "in_features (the input channels)")
        p = self._plan(in_features)
        (block,) = p.blocks
        shape = self.weights_shape(block)
        weights = ParamSpec("weights", shape, normal_init(((math.prod(shape), block.std),)), self.param_dtype)
        if not self.use_bias:
            return (weights,)
        return weights, ParamSpec("bias", (self.out_features,), self.bias_init, self.param_dtype)

    def apply(self, params: Params, x) -> jax.Array:
        self.in_features(x)
        check_steerable_config(self.group, jnp.shape(x)[1:3], self.kernel_size, self.strides, self.padding,
                               self.name, self.strict)
        return _apply(self, dict(params), x, _constant_kernel(self, params, x))

    def apply_traced(self, params: Params, x, kernel: jax.Array | None = None) -> jax.Array:
        """The layer (``apply`` runs it under one ``jax.jit``), with ``kernel`` if already expanded."""
        kernel = self.kernel(params) if kernel is None else kernel
        x, kernel, bias = promote_dtype(x, kernel, params.get("bias"), dtype=self.dtype)
        return self.convolve(x, kernel, bias)

    def kernel(self, params: Params) -> jax.Array:
        """The expanded kernel ``(kh, kw, cin_flat, out_features*|G|)`` (channels ``c*|G| + g``)."""
        w = params["weights"]
        p = self._plan(w.shape[1])
        return expand_kernel(p, w.reshape(-1), self.kernel_size[0])

    def expand_kernel(self, kernel: jax.Array) -> jax.Array:
        return kernel

    def convolve(self, x, kernel, bias) -> jax.Array:
        flat = x.reshape(x.shape[:3] + (-1,))
        y = _convolve(flat, kernel, self.strides, self.padding, self.precision)
        if bias is not None:
            y = y + jnp.repeat(bias, self.group.order)
        return self.unflatten_output(y)

    def input_like(self, x, params: Params) -> jax.Array:
        features = self.feature_shape(params["weights"].shape[1])
        return jnp.zeros(x.shape[:x.ndim - len(features)] + features, x.dtype)


@dataclasses.dataclass(frozen=True)
class FunctionalSteerableLiftingConv(_SteerableRegular, FunctionalLiftingConv):
    """:class:`~symjax.functional.FunctionalLiftingConv` with its kernel in the steerable basis (``LiftingConv``'s default off the grid).

    Parameters ``weights`` ``(F, cin, out_features)``: the coefficients of the
    kernel over ``F`` normalised ring harmonics (``steerable_basis(Trivial, Regular)``);
    the copy for element ``h`` is that band-limited kernel rotated by ``h`` analytically
    and sampled, so the layer is exactly equivariant for the elements that map the grid
    onto itself and approximately (band-limited) for the others. ``bias`` ``(out_features,)``
    as the lifting convolution's. Other arguments as :class:`~symjax.functional.FunctionalLiftingConv`
    (``kernel_init`` is not used: the initialisation is computed from the basis), and
    ``rings``, ``sigma``, ``max_frequency`` of the basis.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> conv = FunctionalSteerableLiftingConv(groups.cyclic(8), 4, kernel_size=5)
    >>> [(s.name, s.shape) for s in conv.param_specs(3)]
    [('weights', (11, 3, 4)), ('bias', (4,))]
    """

    name: ClassVar[str] = "LiftingConv"
    rings: Sequence[float] | None = None
    sigma: float | Sequence[float] | None = None
    max_frequency: int | Sequence[int] | None = None

    def field_type(self, in_features: int) -> Rep:
        return in_features * Trivial(self.group)

    def weights_shape(self, block: Block) -> tuple[int, ...]:
        return block.shape


@dataclasses.dataclass(frozen=True)
class FunctionalSteerableGroupConv(_SteerableRegular, FunctionalGroupConv):
    """:class:`~symjax.functional.FunctionalGroupConv` with its kernel in the steerable basis (``GroupConv``'s default off the grid).

    Parameters ``weights`` ``(F, cin, |G|, out_features)``: a free kernel on the group
    axis whose spatial part is ``F`` normalised ring harmonics (regular-to-regular
    steerable basis); the block for output element ``h`` is that kernel moved by ``h``
    (rotated analytically, group axis permuted). Arguments as
    :class:`FunctionalSteerableLiftingConv`.

    >>> from symjax import groups
    >>> conv = FunctionalSteerableGroupConv(groups.dihedral(8), 2, kernel_size=5, use_bias=False)
    >>> [(s.name, s.shape) for s in conv.param_specs(3)]
    [('weights', (11, 3, 16, 2))]
    """

    name: ClassVar[str] = "GroupConv"
    rings: Sequence[float] | None = None
    sigma: float | Sequence[float] | None = None
    max_frequency: int | Sequence[int] | None = None

    def field_type(self, in_features: int) -> Rep:
        return in_features * Regular(self.group)

    def weights_shape(self, block: Block) -> tuple[int, ...]:
        f, cin, n, cout = block.shape
        return f, cin, n, cout


BASES = ("steerable", "bilinear")
"""The kernel constructions of ``LiftingConv``/``GroupConv``: ``basis=`` one of these, or ``None`` (the default)."""


def regular_conv(kind: str, group, out_features: int, basis: str | None = None, *,
                 rings: Sequence[float] | None = None, sigma: float | Sequence[float] | None = None,
                 max_frequency: int | Sequence[int] | None = None, **config) -> FunctionalConv:
    """The functional definition of a lifting (``kind="lifting"``) or group convolution with the chosen kernel basis.

    ``basis=None`` is ``"bilinear"`` for the groups exact on the pixel grid (the free
    kernel moved by exact index maps, unchanged) and ``"steerable"`` for the others
    (:class:`FunctionalSteerableLiftingConv`, :class:`FunctionalSteerableGroupConv`);
    ``"bilinear"`` is the free kernel moved by each element (bilinear interpolation off
    the grid: :class:`~symjax.functional.FunctionalLiftingConv`). ``rings``, ``sigma`` and
    ``max_frequency`` set the steerable basis (:func:`steerable_basis`); with the bilinear
    kernels they are a ``ValueError``.

    >>> from symjax import groups
    >>> type(regular_conv("group", groups.cyclic(8), 4)).__name__, type(regular_conv("group", groups.cyclic(4), 4)).__name__
    ('FunctionalSteerableGroupConv', 'FunctionalGroupConv')
    """
    if basis is not None and basis not in BASES:
        raise ValueError(f"{'LiftingConv' if kind == 'lifting' else 'GroupConv'} expects basis to be one of "
                         f"{BASES} or None (steerable off the grid), got {basis!r}")
    chosen = basis is not None
    if basis is None:
        planar = isinstance(group, FiniteGroup) and is_planar(group)
        basis = "steerable" if planar and not is_exact_on_grid(group) else "bilinear"  # bilinear: its checks
    settings = {name: value for name, value in (("rings", rings), ("sigma", sigma), ("max_frequency", max_frequency))
                if value is not None}
    if basis == "steerable":
        cls = FunctionalSteerableLiftingConv if kind == "lifting" else FunctionalSteerableGroupConv
        return cls(group, out_features, **settings, **config)
    if settings:
        raise ValueError(f"{'LiftingConv' if kind == 'lifting' else 'GroupConv'} over {getattr(group, 'name', group)}: "
                         f"{', '.join(settings)} {'sets' if len(settings) == 1 else 'set'} the steerable basis, and "
                         f"this layer has the free kernel "
                         f"(basis='bilinear'{'' if chosen else ', the default for a group exact on the grid'}); "
                         f"pass basis='steerable' or drop {', '.join(settings)}")
    cls = FunctionalLiftingConv if kind == "lifting" else FunctionalGroupConv
    return cls(group, out_features, **config)

