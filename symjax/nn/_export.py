"""Export a Linen model with symjax convolutions to one made of plain ``flax.linen.Conv`` layers."""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.core import FrozenDict, freeze, unfreeze

from symjax import functional as F
from symjax.nn._layers import ConvWrapper

__all__ = ["export", "ExportedModel"]


def _is_conv_call(context) -> bool:
    return context.method_name == "__call__" and isinstance(context.module, ConvWrapper)


def _plain_conv(layer: F.FunctionalConv, m: ConvWrapper) -> nn.Conv:
    """The ``flax.linen.Conv`` that computes ``layer`` with its expanded kernel, sharing ``m``'s scope."""
    return nn.Conv(features=layer.plain_features, kernel_size=layer.kernel_size, strides=layer.strides,
                   padding=layer.padding, use_bias=layer.use_bias, dtype=layer.dtype,
                   param_dtype=layer.param_dtype, precision=layer.precision, parent=m)


class ExportedModel(nn.Module):
    """A Linen model whose ``LiftingConv``/``GroupConv`` layers run as plain ``flax.linen.Conv``.

    Built by :func:`export`. It calls ``model`` (same variable tree: it shares
    its scope) with each symjax convolution redirected, by
    :func:`flax.linen.intercept_methods`, to a ``flax.linen.Conv`` created in
    that layer's scope, which reads the expanded kernel
    ``(kh, kw, cin*|G|, features*|G|)`` and the bias repeated to
    ``(features*|G|,)``. The convolution's output is reshaped back to
    ``(N, H, W, features, |G|)``, so the rest of the model is unchanged; the
    model's outputs that are group feature maps
    (:func:`symjax.functional.flatten_group_maps`: the layout of a convolution's
    output) are returned flattened to ``(N, H, W, C*|G|)``.
    """

    model: nn.Module

    def setup(self):
        nn.share_scope(self, self.model)

    def __call__(self, *args, **kwargs):
        layers = []

        def to_plain(next_fun, call_args, call_kwargs, context):
            if not _is_conv_call(context):
                return next_fun(*call_args, **call_kwargs)
            m = context.module
            layer = m.functional
            layers.append(layer)
            (x,) = call_args or tuple(call_kwargs.values())
            conv = _plain_conv(layer, m)
            nn.share_scope(m, conv)
            return layer.unflatten_output(conv(layer.flatten_input(x)))

        with nn.intercept_methods(to_plain):
            out = self.model(*args, **kwargs)
        return F.flatten_group_maps(out, layers)


def _locate(model: nn.Module, variables, args, kwargs) -> dict[tuple[str, ...], F.FunctionalConv]:
    """The symjax convolutions ``model`` calls, by variable path (abstract evaluation, no FLOPs)."""
    found = {}
    polymorphic = not args and not kwargs

    def record(next_fun, call_args, call_kwargs, context):
        if not _is_conv_call(context):
            return next_fun(*call_args, **call_kwargs)
        m = context.module
        layer = m.functional
        found[tuple(m.scope.path)] = layer
        if polymorphic:  # channels are unknown on a shape-polymorphic input: take them from the parameters
            (x,) = call_args or tuple(call_kwargs.values())
            call_args, call_kwargs = (layer.input_like(x, m.variables["params"]),), {}
        return next_fun(*call_args, **call_kwargs)

    if polymorphic:
        rank = model.functional.input_rank if isinstance(model, ConvWrapper) else 4
        spec = jax.export.symbolic_shape(", ".join(f"d{i}" for i in range(rank)))
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
    for path, layer in found.items():
        parent, key = plain, "params"
        for name in path:
            parent, key = parent[key], name
        parent[key] = layer.expand(parent[key])
    return ExportedModel(model), (freeze(plain) if frozen else plain)
