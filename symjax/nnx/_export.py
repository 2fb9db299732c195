"""Export an NNX model with symjax convolutions to one made of plain ``flax.nnx.Conv`` layers."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from symjax import functional as F
from symjax.functional._checks import check_group_axis, check_rank
from symjax.nnx._layers import GroupConv, LiftingConv

__all__ = ["export", "ExportedModel", "PlainConv"]

_CONVS = (LiftingConv, GroupConv)


class PlainConv(nnx.Module):
    """A symjax convolution computed by an ordinary ``flax.nnx.Conv`` holding its expanded kernel.

    ``conv.conv.kernel`` is ``(kh, kw, cin*|G|, features*|G|)`` (for a lifting
    convolution the input axis is just ``cin``) and ``conv.conv.bias`` the bias
    repeated to ``(features*|G|,)``. Inputs and outputs keep the shapes of the
    layer it replaces: ``(N, H, W, C, |G|)`` group feature maps.

    >>> import jax.numpy as jnp
    >>> from flax import nnx as fnnx
    >>> from symjax import groups, nnx
    >>> layer = nnx.GroupConv(groups.cyclic(4), 2, 3, rngs=fnnx.Rngs(0))
    >>> plain = PlainConv(layer)
    >>> f = jnp.ones((1, 5, 5, 2, 4))
    >>> plain.conv.kernel.shape, bool(jnp.allclose(plain(f), layer(f), atol=1e-5))
    ((3, 3, 8, 12), True)
    """

    def __init__(self, layer: LiftingConv | GroupConv):
        if not isinstance(layer, _CONVS):
            raise TypeError(f"PlainConv expects a symjax.nnx LiftingConv or GroupConv, got {type(layer).__name__}")
        group = layer.group
        expand = F.group_kernel if isinstance(layer, GroupConv) else F.lift_kernel
        kernel = expand(layer.kernel[...], group)
        kh, kw, cin, cout = kernel.shape
        self.group = group
        self.grouped_input = isinstance(layer, GroupConv)
        self.conv = nnx.Conv(cin, cout, (kh, kw), strides=layer.strides, padding=layer.padding,
                             use_bias=layer.bias is not None, dtype=layer.dtype, param_dtype=kernel.dtype,
                             precision=layer.precision, kernel_init=nnx.initializers.zeros_init(),
                             rngs=nnx.Rngs(0))
        self.conv.kernel = nnx.Param(kernel)
        if layer.bias is not None:
            self.conv.bias = nnx.Param(jnp.repeat(layer.bias[...], group.order))

    def __call__(self, x: jax.Array) -> jax.Array:
        name = "GroupConv" if self.grouped_input else "LiftingConv"
        if self.grouped_input:
            x = check_rank(x, 5, name, "(N, H, W, C, |G|)")
            check_group_axis(x, self.group, name)
            x = x.reshape(x.shape[:-2] + (-1,))
        else:
            x = check_rank(x, 4, name, "(N, H, W, C)")
        y = self.conv(x)
        return y.reshape(y.shape[:-1] + (-1, self.group.order))


class ExportedModel(nnx.Module):
    """``model`` with every symjax convolution replaced by a :class:`PlainConv`; built by :func:`export`.

    Calling it calls ``self.model`` and returns its outputs with group feature
    maps (rank 5, last axis a group's order) flattened to ``(N, H, W, C*|G|)``,
    as :func:`symjax.nn.export` does. ``self.model`` is the converted copy itself
    (its methods return the unflattened maps); ``train()`` / ``eval()`` reach it.

    >>> import jax.numpy as jnp
    >>> from flax import nnx as fnnx
    >>> from symjax import groups, nnx
    >>> exported = nnx.export(nnx.LiftingConv(groups.dihedral(4), 1, 2, rngs=fnnx.Rngs(0)))
    >>> type(exported.model).__name__, exported(jnp.ones((1, 5, 5, 1))).shape
    ('PlainConv', (1, 5, 5, 16))
    """

    def __init__(self, model: nnx.Module, orders: tuple[int, ...]):
        self.model = model
        self.orders = orders

    def __call__(self, *args, **kwargs):
        out = self.model(*args, **kwargs)
        return jax.tree.map(
            lambda y: y.reshape(y.shape[:-2] + (-1,)) if jnp.ndim(y) == 5 and y.shape[-1] in self.orders else y,
            out)


def _replace(obj: Any, memo: dict[int, Any]) -> Any:
    """``obj`` with symjax convolutions swapped for :class:`PlainConv`, in place where ``obj`` is mutable."""
    if isinstance(obj, _CONVS):
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
    copy = nnx.clone(model)
    memo: dict[int, Any] = {}
    converted = _replace(copy, memo)
    orders = tuple(sorted({m.group.order for m in memo.values() if isinstance(m, PlainConv)}))
    return ExportedModel(converted, orders)
