"""Export a Linen model with symjax convolutions to one made of plain ``flax.linen.Conv`` layers."""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.core import FrozenDict, freeze, unfreeze

from symjax import functional as F
from symjax.functional._checks import (
    canonical_kernel_size,
    canonical_padding,
    canonical_strides,
    check_group_axis,
    check_rank,
)
from symjax.nn._layers import GroupConv, LiftingConv

__all__ = ["export", "ExportedModel"]

_CONVS = (LiftingConv, GroupConv)


def _is_conv_call(context) -> bool:
    return context.method_name == "__call__" and isinstance(context.module, _CONVS)


def _plain_conv(m: LiftingConv | GroupConv) -> nn.Conv:
    """The ``flax.linen.Conv`` that computes ``m`` with its expanded kernel, sharing ``m``'s scope."""
    return nn.Conv(features=m.features * m.group.order,
                   kernel_size=canonical_kernel_size(m.kernel_size, type(m).__name__),
                   strides=canonical_strides(m.strides, type(m).__name__),
                   padding=canonical_padding(m.padding, type(m).__name__),
                   use_bias=m.use_bias, dtype=m.dtype, param_dtype=m.param_dtype, precision=m.precision,
                   parent=m)


class ExportedModel(nn.Module):
    """A Linen model whose ``LiftingConv``/``GroupConv`` layers run as plain ``flax.linen.Conv``.

    Built by :func:`export`. It calls ``model`` (same variable tree: it shares
    its scope) with each symjax convolution redirected, by
    :func:`flax.linen.intercept_methods`, to a ``flax.linen.Conv`` created in
    that layer's scope, which reads the expanded kernel
    ``(kh, kw, cin*|G|, features*|G|)`` and the bias repeated to
    ``(features*|G|,)``. The convolution's output is reshaped back to
    ``(N, H, W, features, |G|)``, so the rest of the model is unchanged; the
    model's outputs that are group feature maps (rank 5 with a last axis of a
    group's order) are returned flattened to ``(N, H, W, C*|G|)``.
    """

    model: nn.Module

    def setup(self):
        nn.share_scope(self, self.model)

    def __call__(self, *args, **kwargs):
        orders = set()

        def to_plain(next_fun, call_args, call_kwargs, context):
            if not _is_conv_call(context):
                return next_fun(*call_args, **call_kwargs)
            m = context.module
            (x,) = call_args or tuple(call_kwargs.values())
            n = m.group.order
            orders.add(n)
            if isinstance(m, GroupConv):
                check_rank(x, 5, "GroupConv", "(N, H, W, C, |G|)")
                check_group_axis(x, m.group, "GroupConv")
                x = x.reshape(x.shape[:-2] + (-1,))
            else:
                check_rank(x, 4, "LiftingConv", "(N, H, W, C)")
            conv = _plain_conv(m)
            nn.share_scope(m, conv)
            y = conv(x)
            return y.reshape(y.shape[:-1] + (m.features, n))

        with nn.intercept_methods(to_plain):
            out = self.model(*args, **kwargs)
        return jax.tree.map(
            lambda y: y.reshape(y.shape[:-2] + (-1,)) if jnp.ndim(y) == 5 and y.shape[-1] in orders else y, out)


def _locate(model: nn.Module, variables, args, kwargs) -> dict[tuple[str, ...], LiftingConv | GroupConv]:
    """The symjax convolutions ``model`` calls, by variable path (abstract evaluation, no FLOPs)."""
    found = {}
    polymorphic = not args and not kwargs

    def record(next_fun, call_args, call_kwargs, context):
        if not _is_conv_call(context):
            return next_fun(*call_args, **call_kwargs)
        m = context.module
        found[tuple(m.scope.path)] = m
        if polymorphic:  # channels are unknown on a shape-polymorphic input: take them from the kernel
            (x,) = call_args or tuple(call_kwargs.values())
            cin = m.get_variable("params", "kernel").shape[2]
            keep = x.ndim - (2 if isinstance(m, GroupConv) else 1)
            channels = (cin, m.group.order) if isinstance(m, GroupConv) else (cin,)
            call_args, call_kwargs = (jnp.zeros(x.shape[:keep] + channels, x.dtype),), {}
        return next_fun(*call_args, **call_kwargs)

    if polymorphic:
        rank = 5 if isinstance(model, GroupConv) else 4
        spec = jax.export.symbolic_shape(", ".join("nhwcg"[:rank]))
        args = (jax.ShapeDtypeStruct(spec, jnp.float32),)

    def run(variables, *args):
        with nn.intercept_methods(record):
            return model.apply(variables, *args, mutable=True, **kwargs)

    try:
        jax.eval_shape(run, variables, *args)
    except Exception as err:
        if not polymorphic:
            raise
        raise ValueError(f"export could not trace {type(model).__name__} on an input of unknown size to find its "
                         f"symjax convolutions ({type(err).__name__}: {err}); pass an example input: "
                         "export(model, variables, x)") from err
    return found


def export(model: nn.Module, variables, *example_args, **example_kwargs) -> tuple[ExportedModel, Any]:
    """A plain-Flax equivalent of ``model``: every symjax convolution becomes a ``flax.linen.Conv``.

    The exported variables have the same tree as ``variables``; only each
    ``LiftingConv``/``GroupConv`` entry changes, to a ``flax.linen.Conv``'s:
    ``kernel`` ``(kh, kw, cin*|G|, features*|G|)`` (the expanded kernel,
    channel index ``c*|G| + g`` on both axes) and ``bias`` ``(features*|G|,)``.
    Other collections (``batch_stats`` ...) are passed through, so train and
    eval mode behave as in the original. ``plain.apply(plain_variables, x)``
    equals ``model.apply(variables, x)``, with group feature maps among the
    outputs flattened to ``C*|G|`` channels.

    Args:
      model: a Linen module (user models that contain symjax layers, at any depth).
      variables: as returned by ``model.init``.
      *example_args, **example_kwargs: optional example call arguments. Without
        them the model is traced abstractly on an image batch ``(N, H, W, C)``
        of unknown size; pass an example when the model takes another input or
        needs a fixed size (e.g. it flattens before a Dense layer).

    Returns:
      ``(plain_model, plain_variables)``.

    >>> import jax, jax.numpy as jnp
    >>> import flax.linen as fnn
    >>> from symjax import groups, nn
    >>> G = groups.cyclic(4)
    >>> class Net(fnn.Module):
    ...     @fnn.compact
    ...     def __call__(self, x):
    ...         return nn.GroupConv(G, 3)(fnn.relu(nn.LiftingConv(G, 4)(x)))
    >>> x = jax.random.normal(jax.random.key(0), (2, 7, 7, 1))
    >>> variables = Net().init(jax.random.key(1), x)
    >>> plain, plain_variables = export(Net(), variables)
    >>> plain_variables["params"]["GroupConv_0"]["kernel"].shape
    (3, 3, 16, 12)
    >>> y = plain.apply(plain_variables, x)
    >>> y.shape, bool(jnp.allclose(y, Net().apply(variables, x).reshape(2, 7, 7, 12), atol=1e-5))
    ((2, 7, 7, 12), True)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"export expects model to be a flax.linen.Module, got {type(model).__name__}")
    if "params" not in variables:
        raise ValueError(f"export expects variables as returned by model.init (with a 'params' collection), "
                         f"got collections {list(variables)}")
    found = _locate(model, variables, example_args, example_kwargs)
    frozen = isinstance(variables, FrozenDict)
    plain = unfreeze(variables)
    for path, m in found.items():
        node = plain["params"]
        for name in path:
            node = node[name]
        expand = F.group_kernel if isinstance(m, GroupConv) else F.lift_kernel
        node["kernel"] = expand(node["kernel"], m.group)
        if "bias" in node:
            node["bias"] = jnp.repeat(node["bias"], m.group.order)
    return ExportedModel(model), (freeze(plain) if frozen else plain)
