"""Convolution layer kinds: parameters, apply, and how each runs as one plain convolution (export).

:class:`FunctionalConv` is the contract of a convolution layer kind;
:class:`FunctionalLiftingConv` and :class:`FunctionalGroupConv` are the two
kinds of :mod:`symjax.nn` / :mod:`symjax.nnx`. A new kind (a kernel built from
coefficients over a basis, a relaxed group convolution, a 3D convolution) is
one more subclass: its parameters, its kernel in the layout of
:func:`~symjax.functional.lifting_conv` / :func:`~symjax.functional.group_conv`,
and the export comes with it (``docs/adding_a_layer.md``).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Mapping, Sequence

import jax
import jax.numpy as jnp

from symjax.functional._checks import (
    Padding,
    canonical_kernel_size,
    canonical_padding,
    canonical_strides,
    check_conv_group,
    check_features,
    check_group_axis,
    check_rank,
)
from symjax.functional._conv import group_conv, group_kernel, lift_kernel, lifting_conv
from symjax.functional._layer import Initializer, ParamSpec, default_kernel_init, promote_dtype
from symjax.geometry import spatial_dims
from symjax.groups import FiniteGroup

__all__ = ["FunctionalConv", "FunctionalLiftingConv", "FunctionalGroupConv", "flatten_group_maps"]

Params = Mapping[str, jax.Array]


class FunctionalConv:
    """The contract of a convolution layer kind that runs as, and exports to, one plain convolution.

    A subclass is a frozen dataclass holding the layer's configuration, with
    the attributes of the plain convolution it expands to (``kernel_size``,
    ``strides``, ``padding``, ``use_bias``, ``dtype``, ``param_dtype``,
    ``precision``, and ``plain_features``, its output channels) and:

    - ``param_names``: every parameter the kind can have (absent ones are ``None`` in NNX);
    - ``in_features(x)``: check the input's layout and return its channels;
    - ``param_specs(in_features)``: the :class:`~symjax.functional.ParamSpec` of each parameter;
    - ``apply(params, x)``: the layer;
    - ``expand(params)``: ``{"kernel": (kh, kw, cin_flat, plain_features), "bias": (plain_features,)}``,
      the plain convolution's parameters (``bias`` only with ``use_bias``);
    - ``flatten_input(x)`` / ``unflatten_output(y)``: between the layer's layouts and the plain
      convolution's ``(N, H, W, C)``, so that
      ``unflatten_output(conv(flatten_input(x), **expand(params))) == apply(params, x)``;
    - ``is_group_map(y)``: whether ``y`` has the layout of the layer's group feature maps
      (those that an export returns flattened);
    - ``input_like(x, params)``: an input with ``x``'s leading axes that ``apply`` accepts
      (to trace a model on an input of unknown size).

    >>> from symjax import groups
    >>> isinstance(FunctionalGroupConv(groups.cyclic(4), 8), FunctionalConv)
    True
    """

    param_names: ClassVar[tuple[str, ...]] = ()


@dataclasses.dataclass(frozen=True)
class _RegularConv(FunctionalConv):
    """Fields and behaviour shared by the lifting and group convolutions (outputs ``(N, H', W', cout, |G|)``)."""

    name: ClassVar[str] = ""
    layout: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ("kernel", "bias")

    group: FiniteGroup
    out_features: int
    kernel_size: int | Sequence[int] = (3, 3)
    strides: int | Sequence[int] = 1
    padding: Padding = "SAME"
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    kernel_init: Initializer = default_kernel_init
    bias_init: Initializer = jax.nn.initializers.zeros
    precision: Any = None
    strict: bool = False

    def __post_init__(self):
        object.__setattr__(self, "group", check_conv_group(self.group, self.name, "group"))
        check_features(self.out_features, self.name, "out_features (features in symjax.nn)")
        dims = spatial_dims(self.group)  # 3 for volumes (a group of 3x3 signed permutations)
        object.__setattr__(self, "kernel_size", canonical_kernel_size(self.kernel_size, self.name, dims, self.group))
        object.__setattr__(self, "strides", canonical_strides(self.strides, self.name, dims))
        object.__setattr__(self, "padding", canonical_padding(self.padding, self.name, dims))

    def feature_shape(self, in_features: int) -> tuple[int, ...]:
        """The trailing (feature) axes of the input, after the batch and spatial axes."""
        raise NotImplementedError

    def kernel_shape(self, in_features: int) -> tuple[int, ...]:
        """The shape of the ``kernel`` parameter."""
        raise NotImplementedError

    def kernel(self, params: Params) -> jax.Array:
        """The kernel in the layout of the functional convolution (here: the ``kernel`` parameter itself)."""
        return params["kernel"]

    def expand_kernel(self, kernel: jax.Array) -> jax.Array:
        """The kernel expanded over the group: ``(kh, kw, cin_flat, out_features*|G|)``."""
        raise NotImplementedError

    def convolve(self, x: jax.Array, kernel: jax.Array, bias: jax.Array | None) -> jax.Array:
        """The functional convolution of ``x`` with ``kernel`` (already promoted to the computation dtype)."""
        raise NotImplementedError

    @property
    def input_rank(self) -> int:
        return 1 + len(self.kernel_size) + len(self.feature_shape(1))

    @property
    def plain_features(self) -> int:
        return self.out_features * self.group.order

    def in_features(self, x) -> int:
        layout = self.layout if len(self.kernel_size) == 2 else self.layout.replace("(N, ", "(N, D, ")
        x = check_rank(x, self.input_rank, self.name, layout)
        return x.shape[1 + len(self.kernel_size)]

    def param_specs(self, in_features: int) -> tuple[ParamSpec, ...]:
        check_features(in_features, self.name, "in_features (the input channels)")
        kernel = ParamSpec("kernel", self.kernel_shape(in_features), self.kernel_init, self.param_dtype)
        if not self.use_bias:
            return (kernel,)
        return kernel, ParamSpec("bias", (self.out_features,), self.bias_init, self.param_dtype)

    def apply(self, params: Params, x) -> jax.Array:
        x, kernel, bias = promote_dtype(x, self.kernel(params), params.get("bias"), dtype=self.dtype)
        return self.convolve(x, kernel, bias)

    def expand(self, params: Params) -> dict[str, jax.Array]:
        plain = {"kernel": self.expand_kernel(self.kernel(params))}
        if params.get("bias") is not None:
            plain["bias"] = jnp.repeat(params["bias"], self.group.order)
        return plain

    def flatten_input(self, x) -> jax.Array:
        self.in_features(x)
        x = jnp.asarray(x)
        keep = 1 + len(self.kernel_size)
        return x.reshape(x.shape[:keep] + (math.prod(x.shape[keep:]),))

    def unflatten_output(self, y: jax.Array) -> jax.Array:
        return y.reshape(y.shape[:-1] + (self.out_features, self.group.order))

    def is_group_map(self, y) -> bool:
        return jnp.ndim(y) == 3 + len(self.kernel_size) and jnp.shape(y)[-1] == self.group.order

    def input_like(self, x, params: Params) -> jax.Array:
        features = self.feature_shape(self.kernel(params).shape[len(self.kernel_size)])
        return jnp.zeros(x.shape[:x.ndim - len(features)] + features, x.dtype)


@dataclasses.dataclass(frozen=True)
class FunctionalLiftingConv(_RegularConv):
    """The lifting convolution layer ``(N, H, W, cin) -> (N, H', W', out_features, |G|)``.

    Parameters ``kernel`` ``(kh, kw, cin, out_features)`` and, with ``use_bias``,
    ``bias`` ``(out_features,)`` shared over the group axis; ``apply`` is
    :func:`~symjax.functional.lifting_conv`, ``expand`` uses :func:`~symjax.functional.lift_kernel`.

    Args:
      group: a group of 2x2 orthogonal matrices (:func:`~symjax.functional.lifting_conv`).
      out_features: output channels per group element.
      kernel_size, strides, padding, precision, strict: as :func:`~symjax.functional.lifting_conv`
        (``strict=True``: a configuration that cannot be exactly equivariant raises instead of warning).
      use_bias: one bias per output channel, shared over the group axis.
      dtype: computation dtype (default: inferred from input and parameters).
      param_dtype, kernel_init, bias_init: of the parameters.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> conv = FunctionalLiftingConv(groups.cyclic(4), 6)
    >>> x = jnp.ones((1, 9, 9, 3))
    >>> params = {s.name: s.init(jax.random.key(0), s.shape, s.dtype) for s in conv.param_specs(conv.in_features(x))}
    >>> params["kernel"].shape, conv.apply(params, x).shape, conv.expand(params)["kernel"].shape
    ((3, 3, 3, 6), (1, 9, 9, 6, 4), (3, 3, 3, 24))
    """

    name: ClassVar[str] = "LiftingConv"
    layout: ClassVar[str] = "(N, H, W, C)"

    def feature_shape(self, in_features: int) -> tuple[int, ...]:
        return (in_features,)

    def kernel_shape(self, in_features: int) -> tuple[int, ...]:
        return self.kernel_size + (in_features, self.out_features)

    def expand_kernel(self, kernel: jax.Array) -> jax.Array:
        return lift_kernel(kernel, self.group)

    def convolve(self, x, kernel, bias) -> jax.Array:
        return lifting_conv(x, kernel, self.group, strides=self.strides, padding=self.padding, bias=bias,
                            precision=self.precision, strict=self.strict)


@dataclasses.dataclass(frozen=True)
class FunctionalGroupConv(_RegularConv):
    """The group convolution layer ``(N, H, W, cin, |G|) -> (N, H', W', out_features, |G|)``.

    Parameters ``kernel`` ``(kh, kw, cin, |G|, out_features)`` and ``bias``
    ``(out_features,)``; ``apply`` is :func:`~symjax.functional.group_conv`,
    ``expand`` uses :func:`~symjax.functional.group_kernel`. Arguments as
    :class:`FunctionalLiftingConv`.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> conv = FunctionalGroupConv(groups.dihedral(4), 5, use_bias=False)
    >>> [(s.name, s.shape) for s in conv.param_specs(2)]
    [('kernel', (3, 3, 2, 8, 5))]
    >>> conv.flatten_input(jnp.ones((1, 7, 7, 2, 8))).shape, conv.plain_features
    ((1, 7, 7, 16), 40)
    """

    name: ClassVar[str] = "GroupConv"
    layout: ClassVar[str] = "(N, H, W, C, |G|)"

    def feature_shape(self, in_features: int) -> tuple[int, ...]:
        return (in_features, self.group.order)

    def in_features(self, x) -> int:
        cin = super().in_features(x)
        check_group_axis(jnp.asarray(x), self.group, self.name)
        return cin

    def kernel_shape(self, in_features: int) -> tuple[int, ...]:
        return self.kernel_size + (in_features, self.group.order, self.out_features)

    def expand_kernel(self, kernel: jax.Array) -> jax.Array:
        return group_kernel(kernel, self.group)

    def convolve(self, x, kernel, bias) -> jax.Array:
        return group_conv(x, kernel, self.group, strides=self.strides, padding=self.padding, bias=bias,
                          precision=self.precision, strict=self.strict)


def flatten_group_maps(outputs: Any, layers) -> Any:
    """``outputs`` (any pytree) with every group feature map flattened to ``(..., C*|G|)``.

    A leaf is a group feature map when it has the output layout of one of
    ``layers`` (:meth:`FunctionalConv.is_group_map`: for the 2D convolutions,
    rank 5 ``(N, H, W, C, |G|)`` with that layer's ``|G|`` last); other leaves
    are returned as they are. Both exports use this to decide which outputs
    to flatten.

    Args:
      outputs: a model's outputs.
      layers: the :class:`FunctionalConv` definitions of the model's convolutions.

    Returns:
      ``outputs`` with the group feature maps reshaped to ``(..., C*|G|)``.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> out = flatten_group_maps({"map": jnp.ones((2, 5, 5, 3, 4)), "logits": jnp.ones((2, 10))},
    ...                          [FunctionalGroupConv(groups.cyclic(4), 3)])
    >>> out["map"].shape, out["logits"].shape
    ((2, 5, 5, 12), (2, 10))
    """
    layers = tuple(layers)

    def flatten(y):
        if any(layer.is_group_map(y) for layer in layers):
            return y.reshape(y.shape[:-2] + (-1,))
        return y

    return jax.tree.map(flatten, outputs)
