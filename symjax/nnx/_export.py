"""Export an NNX model with symjax convolutions to one made of plain ``flax.nnx.Conv`` layers."""
from __future__ import annotations

from typing import Any

import jax
from flax import nnx

from symjax import functional as F
from symjax.nnx._layers import ConvWrapper, read_params

__all__ = ["export", "ExportedModel", "PlainConv"]


class PlainConv(nnx.Module):
    """A symjax convolution computed by an ordinary ``flax.nnx.Conv`` holding its expanded kernel.

    ``conv.conv.kernel`` is ``(kh, kw, cin*|G|, features*|G|)`` (for a lifting
    convolution the input axis is just ``cin``) and ``conv.conv.bias`` the bias
    repeated to ``(features*|G|,)`` (:meth:`symjax.functional.FunctionalConv.expand`).
    Inputs and outputs keep the shapes of the layer it replaces: ``(N, H, W, C, |G|)``
    group feature maps.

    >>> import jax.numpy as jnp
    >>> from flax import nnx as fnnx
    >>> from symjax import groups, nnx
    >>> layer = nnx.GroupConv(groups.cyclic(4), 2, 3, rngs=fnnx.Rngs(0))
    >>> plain = PlainConv(layer)
    >>> f = jnp.ones((1, 5, 5, 2, 4))
    >>> plain.conv.kernel.shape, bool(jnp.allclose(plain(f), layer(f), atol=1e-5))
    ((3, 3, 8, 12), True)
    """

    def __init__(self, layer: ConvWrapper):
        if not isinstance(layer, ConvWrapper):
            raise TypeError(f"PlainConv expects a symjax.nnx convolution (LiftingConv or GroupConv, or another "
                            f"ConvWrapper), got {type(layer).__name__}")
        functional = layer.functional
        plain = functional.expand(read_params(layer, functional.param_names))
        kernel = plain["kernel"]
        self.functional = functional
        self.conv = nnx.Conv(kernel.shape[-2], kernel.shape[-1], functional.kernel_size, strides=functional.strides,
                             padding=functional.padding, use_bias="bias" in plain, dtype=functional.dtype,
                             param_dtype=kernel.dtype, precision=functional.precision,
                             kernel_init=nnx.initializers.zeros_init(), rngs=nnx.Rngs(0))
        self.conv.kernel = nnx.Param(kernel)
        if "bias" in plain:
            self.conv.bias = nnx.Param(plain["bias"])

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.functional.unflatten_output(self.conv(self.functional.flatten_input(x)))


class ExportedModel(nnx.Module):
    """``model`` with every symjax convolution replaced by a :class:`PlainConv`; built by :func:`export`.

    Calling it calls ``self.model`` and returns its outputs with group feature
    maps flattened to ``(N, H, W, C*|G|)`` (:func:`symjax.functional.flatten_group_maps`
    over the layouts of the model's :class:`PlainConv` layers), as
    :func:`symjax.nn.export` does. ``self.model`` is the converted copy itself
    (its methods return the unflattened maps); ``train()`` / ``eval()`` reach it.

    >>> import jax.numpy as jnp
    >>> from flax import nnx as fnnx
    >>> from symjax import groups, nnx
    >>> exported = nnx.export(nnx.LiftingConv(groups.dihedral(4), 1, 2, rngs=fnnx.Rngs(0)))
    >>> type(exported.model).__name__, exported(jnp.ones((1, 5, 5, 1))).shape
    ('PlainConv', (1, 5, 5, 16))
    """

    def __init__(self, model: nnx.Module):
        self.model = model
        self.layers = tuple(dict.fromkeys(node.functional for _, node in nnx.iter_graph(model)
                                          if isinstance(node, PlainConv)))

    def __call__(self, *args, **kwargs):
        return F.flatten_group_maps(self.model(*args, **kwargs), self.layers)


def _replace(obj: Any, memo: dict[int, Any]) -> Any:
    """``obj`` with symjax convolutions swapped for :class:`PlainConv`, in place where ``obj`` is mutable."""
    if isinstance(obj, ConvWrapper):
        if id(obj) not in memo:
            memo[id(obj)] = PlainConv(obj)
        return memo[id(obj)]
    if id(obj) in memo:  # a module already visited (shared, or a cycle)
        return obj
    if isinstance(obj, nnx.List):
        memo[id(obj)] = obj
        for i in range(len(obj)):
            obj[i] = _replace(obj[i], memo)
        return obj
    if isinstance(obj, nnx.Dict):
        memo[id(obj)] = obj
        for key in list(obj.keys()):
            obj[key] = _replace(obj[key], memo)
        return obj
    if isinstance(obj, nnx.Module):
        memo[id(obj)] = obj
        for name, value in list(vars(obj).items()):
            if name.startswith("_"):
                continue
            new = _replace(value, memo)
            if new is not value:
                setattr(obj, name, nnx.data(new) if isinstance(new, (tuple, list, dict)) else new)
        return obj
    if isinstance(obj, (tuple, list)):
        items = [_replace(v, memo) for v in obj]
        if all(a is b for a, b in zip(items, obj)):
            return obj
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    if isinstance(obj, dict):
        items = {k: _replace(v, memo) for k, v in obj.items()}
        return obj if all(items[k] is obj[k] for k in obj) else type(obj)(items)
    return obj


def export(model: nnx.Module) -> ExportedModel:
    """A plain-Flax equivalent of an NNX ``model``: every symjax convolution becomes a ``flax.nnx.Conv``.

    Works on a copy (``model`` is left as it is). Each ``LiftingConv`` /
    ``GroupConv`` anywhere in the model (attributes, ``nnx.List``, ``nnx.Dict``,
    tuples; shared layers stay shared) is replaced by a :class:`PlainConv`
    whose ``nnx.Conv`` holds the expanded kernel ``(kh, kw, cin*|G|, features*|G|)``
    (channel ``c*|G| + g`` on both axes) and the bias repeated over the group.
    Other layers, batch statistics and train/eval mode are untouched.

    Args:
      model: an NNX module (a user model that contains symjax layers at any depth,
        or a single symjax convolution).

    Returns:
      an :class:`ExportedModel` whose call equals ``model``'s, with group feature
      maps among the outputs flattened to ``C*|G|`` channels.

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx as fnnx
    >>> from symjax import groups, nnx
    >>> G = groups.cyclic(4)
    >>> class Net(fnnx.Module):
    ...     def __init__(self, rngs):
    ...         self.lift, self.conv = nnx.LiftingConv(G, 1, 4, rngs=rngs), nnx.GroupConv(G, 4, 3, rngs=rngs)
    ...     def __call__(self, x):
    ...         return self.conv(fnnx.relu(self.lift(x)))
    >>> net = Net(fnnx.Rngs(0))
    >>> plain = export(net)
    >>> plain.model.conv.conv.kernel.shape
    (3, 3, 16, 12)
    >>> x = jax.random.normal(jax.random.key(1), (2, 7, 7, 1))
    >>> y = plain(x)
    >>> y.shape, bool(jnp.allclose(y, net(x).reshape(2, 7, 7, 12), atol=1e-5))
    ((2, 7, 7, 12), True)
    """
    if not isinstance(model, nnx.Module):
        raise TypeError(f"export expects model to be a flax.nnx.Module, got {type(model).__name__}")
    return ExportedModel(_replace(nnx.clone(model), {}))
