"""Where and how much a model breaks a symmetry: per-layer equivariance errors and Lie derivatives.

:func:`layer_outputs` runs any Flax model (Linen with its variables, or an
NNX module) and returns the output of every submodule by name; the measures
compare those outputs on transformed inputs. For a finite group,
:func:`layer_equivariance_errors` gives each layer's relative equivariance
error (the first layer with a large error is the one that breaks the
symmetry); :func:`equivariance_metric` reports them after every epoch of
``Trainer.fit``. For continuous rotations, :func:`lie_derivative` and
:func:`layer_lie_derivatives` give the local equivariance error of Gruver
et al. (ICLR 2023), a ``jax.jvp`` of the model along the generator of
rotations (:func:`rotation_tangent`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import flax.linen as linen
import jax
import jax.numpy as jnp
from flax import nnx

from symjax import actions
from symjax.symmetry._checks import check_group

Action = Callable[[Any, Any, jax.Array], jax.Array]
OUTPUT = "output"
"""The name of the model's own output among :func:`layer_outputs`."""


def _nnx_outputs(model: nnx.Module) -> Callable[..., dict[str, Any]]:
    """``x -> {path: output}`` of every submodule of an NNX model, called on a fresh copy each time."""
    graphdef, state = nnx.split(model)

    def run(x, **kwargs):
        copy = nnx.merge(graphdef, state, copy=True)
        captured, names = {}, {}
        for path, module in nnx.iter_modules(copy):
            if path and id(module) not in names:
                names[id(module)] = "/".join(map(str, path))
                cls = type(module)

                def call(self, *args, _cls=cls, **kw):
                    out = _cls.__call__(self, *args, **kw)
                    captured[names[id(self)]] = out
                    return out

                object.__setattr__(module, "__class__", type(cls.__name__, (cls,), {"__call__": call}))
        captured[OUTPUT] = copy(x, **kwargs)
        return captured

    return run


def _linen_outputs(model: linen.Module, variables: Any) -> Callable[..., dict[str, Any]]:
    """``x -> {path: output}`` of every submodule's ``__call__`` of a Linen model (``capture_intermediates``)."""

    def run(x, **kwargs):
        out, state = model.apply(variables, x, capture_intermediates=True, mutable=["intermediates"], **kwargs)
        captured = {}
        for path, leaf in jax.tree_util.tree_flatten_with_path(state["intermediates"])[0]:
            keys = [str(entry.key) for entry in path if hasattr(entry, "key")]
            if keys and keys[-1] == "__call__" and len(keys) > 1:
                captured["/".join(keys[:-1])] = leaf
        captured[OUTPUT] = out
        return captured

    return run


def layer_outputs(model: Any, x: jax.Array, *, variables: Any = None, **kwargs) -> dict[str, Any]:
    """The output of every submodule of a Flax model on ``x``, by path, and the model's output (``"output"``).

    Linen: ``model.apply(variables, x, capture_intermediates=True)`` (every
    submodule's ``__call__``); NNX: every submodule reached from ``model``
    (attributes, ``nnx.List``, ``nnx.Dict``), called on a copy of the model,
    which is left unchanged. A submodule called several times reports its
    last call.

    Args:
      model: a ``flax.linen.Module`` (with ``variables``) or a ``flax.nnx.Module``.
      x: the input.
      variables: the Linen variables (``model.init``); ``None`` for NNX.
      **kwargs: passed to the model's call (e.g. ``train=False``).

    Returns:
      ``{path: output}``, paths joined with ``/`` (``"LiftingConv_0"``, ``"layers/0"``), and ``"output"``.

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx as fnnx
    >>> from symjax import groups, nnx
    >>> G = groups.cyclic(4)
    >>> model = fnnx.Sequential(nnx.LiftingConv(G, 1, 2, rngs=fnnx.Rngs(0)), nnx.GroupPool())
    >>> {name: y.shape for name, y in layer_outputs(model, jnp.ones((1, 5, 5, 1))).items()}
    {'layers/0': (1, 5, 5, 2, 4), 'layers/1': (1, 5, 5, 2), 'output': (1, 5, 5, 2)}
    """
    return _outputs_fn(model, variables)(x, **kwargs)


def _outputs_fn(model: Any, variables: Any) -> Callable[..., dict[str, Any]]:
    if isinstance(model, nnx.Module):
        if variables is not None:
            raise ValueError("variables must be None for an NNX model (its state is in the module), got "
                             f"{type(variables).__name__}")
        return _nnx_outputs(model)
    if isinstance(model, linen.Module):
        if variables is None:
            raise ValueError("variables must be given for a Linen model (as returned by model.init), got None")
        return _linen_outputs(model, variables)
    raise TypeError(f"model must be a flax.linen.Module or a flax.nnx.Module, got {type(model).__name__}")


def _default_action(G: Any, x: jax.Array, y: Any) -> Action | None | str:
    """The action on an output of this layout: group maps, images, vectors (invariance); ``"skip"`` otherwise."""
    if not isinstance(y, jax.Array) or not jnp.issubdtype(y.dtype, jnp.inexact):
        return "skip"
    if y.ndim == x.ndim + 1 and y.shape[-1] == G.order:
        return actions.on_group_image
    if y.ndim == x.ndim and y.ndim >= 4:
        return actions.on_image
    if y.ndim == 2:
        return None
    return "skip"


def layer_equivariance_errors(
    model: Any,
    G: Any,
    x: jax.Array,
    *,
    variables: Any = None,
    act_in: Action = actions.on_image,
    acts: Mapping[str, Action | None] | None = None,
    **kwargs,
) -> dict[str, jax.Array]:
    """Each layer's relative equivariance error under a finite group: which layer breaks the symmetry.

    For the output ``y_l`` of every submodule (:func:`layer_outputs`) it is
    ``max_g max|y_l(T_g x) - T'_g y_l(x)| / max|y_l(x)|``, the measure of
    :func:`symjax.symmetry.equivariance_error` applied to the model up to that
    layer. The action ``T'`` on an output follows its layout unless ``acts``
    names it: ``(N, H, W, C, |G|)`` group maps get ``actions.on_group_image``,
    images ``(N, H, W, C)`` ``actions.on_image``, vectors ``(N, C)``
    invariance; other outputs (a group axis of another size, after a
    restriction to a subgroup) are left out. Errors are cumulative: a layer
    that breaks the symmetry makes its own error and those after it non-zero,
    up to a later invariant pooling.

    Args:
      model: a Linen model (with ``variables``) or an NNX module.
      G: a finite group.
      x: a batch of inputs.
      variables: the Linen variables; ``None`` for NNX.
      act_in: the action on the inputs.
      acts: ``{name: action or None}`` for outputs whose layout does not say it (``None``: invariance).
      **kwargs: passed to the model's call.

    Returns:
      ``{name: error}`` (float32 scalars), the model's output as ``"output"``.

    >>> import jax, jax.numpy as jnp
    >>> import flax.linen as fnn
    >>> from symjax import groups, nn
    >>> G = groups.cyclic(4)
    >>> class Net(fnn.Module):
    ...     @fnn.compact
    ...     def __call__(self, x):
    ...         f = nn.GroupConv(G, 2)(fnn.relu(nn.LiftingConv(G, 2)(x)))
    ...         return fnn.Conv(3, (3, 3))(nn.GroupPool()(f))
    >>> x = jax.random.normal(jax.random.key(0), (2, 7, 7, 1))
    >>> errors = layer_equivariance_errors(Net(), G, x, variables=Net().init(jax.random.key(1), x))
    >>> {name: bool(e < 1e-5) for name, e in errors.items()}
    {'Conv_0': False, 'GroupConv_0': True, 'GroupPool_0': True, 'LiftingConv_0': True, 'output': False}
    """
    order = check_group(G)
    outputs = _outputs_fn(model, variables)
    acts = dict(acts or {})
    x = jnp.asarray(x)
    elements = jnp.arange(order, dtype=jnp.int32)

    def measure(x):
        orbit = jax.vmap(lambda g: act_in(G, g, x))(elements)
        ys = jax.vmap(lambda xg: outputs(xg, **kwargs))(orbit)
        errors = {}
        for name, y in ys.items():
            act = acts[name] if name in acts else _default_action(G, x, y[0])
            if isinstance(act, str):
                continue
            y0 = y[0].astype(jnp.promote_types(y.dtype, jnp.float32))
            moved = jnp.broadcast_to(y0, y.shape) if act is None else jax.vmap(lambda g: act(G, g, y0))(elements)
            scale = jnp.max(jnp.abs(y0), initial=0.0)
            diff = jnp.max(jnp.abs(y - moved), initial=0.0)
            errors[name] = diff / jnp.where(scale > 0, scale, 1.0)
        return errors

    return jax.jit(measure)(x)


def equivariance_metric(trainer: Any, G: Any, x: jax.Array, *, act_in: Action = actions.on_image,
                        acts: Mapping[str, Action | None] | None = None,
                        prefix: str = "equivariance/") -> Callable[[Any], dict[str, float]]:
    """An ``epoch_metrics`` callback for ``Trainer.fit``: :func:`layer_equivariance_errors` on ``x`` each epoch.

    The model is the trainer's, in eval mode, with its effective parameters
    and model state (batch statistics).

    Args:
      trainer: a :class:`symjax.train.Trainer` (of a Linen or NNX model).
      G: a finite group.
      x: a fixed batch of inputs on which to measure.
      act_in, acts: as :func:`layer_equivariance_errors`.
      prefix: put before each layer's name in the history.

    Returns:
      ``fn(state) -> {prefix + name: float}``.

    >>> import jax, jax.numpy as jnp, optax
    >>> import flax.linen as fnn
    >>> from symjax import groups, nn, train
    >>> G = groups.cyclic(4)
    >>> model = fnn.Sequential([nn.LiftingConv(G, 2), nn.GroupPool(), lambda f: f.mean((1, 2))])
    >>> trainer = train.Trainer(model, optax.sgd(0.1), lambda out, b: jnp.mean(out ** 2))
    >>> x = jax.random.normal(jax.random.key(0), (2, 5, 5, 1))
    >>> state = trainer.init(jax.random.key(1), {"x": x})
    >>> sorted(equivariance_metric(trainer, G, x)(state))
    ['equivariance/layers_0', 'equivariance/layers_1', 'equivariance/output']
    """
    check_group(G)
    model = trainer.model
    mode = trainer.adapter.mode_kwargs(False) if hasattr(trainer.adapter, "mode_kwargs") else {}
    if isinstance(model, nnx.Module):
        copy = nnx.merge(*nnx.split(model))
        copy.eval()
        graphdef = nnx.split(copy, nnx.Param, ...)[0]

    def metric(state) -> dict[str, float]:
        params = trainer.effective_params(state)
        if isinstance(model, nnx.Module):
            errors = layer_equivariance_errors(nnx.merge(graphdef, params, state.model_state), G, x, act_in=act_in,
                                               acts=acts)
        else:
            errors = layer_equivariance_errors(model, G, x, variables={"params": params, **state.model_state},
                                               act_in=act_in, acts=acts, **mode)
        return {prefix + name: float(e) for name, e in errors.items()}

    return metric


def _central_gradients(y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(d/drow, d/dcol)`` of images ``(N, H, W, ...)`` by central differences, zero outside the frame."""
    pad = [(0, 0)] + [(1, 1), (1, 1)] + [(0, 0)] * (y.ndim - 3)
    p = jnp.pad(y, pad)
    d_row = (p[:, 2:, 1:-1] - p[:, :-2, 1:-1]) / 2
    d_col = (p[:, 1:-1, 2:] - p[:, 1:-1, :-2]) / 2
    return d_row, d_col


def rotation_tangent(x: jax.Array) -> jax.Array:
    """``d/dt rotate_image(x, t)`` at ``t = 0``: the generator of rotations applied to images ``(N, H, W, ...)``.

    A rotation by ``t`` moves the source of pixel ``(row, col)`` by
    ``t * (x, y)`` in (row, col), with ``(x, y) = (col - (W-1)/2, (H-1)/2 - row)``;
    the image's derivative along that move is taken by central differences
    (zero fill), which is the limit of the central finite difference
    ``(rotate_image(x, t) - rotate_image(x, -t)) / 2t`` of the bilinear
    rotation. (``jax.jvp`` of :func:`symjax.actions.rotate_image` itself is zero
    at ``t = 0``: it snaps source coordinates within ``geometry.SNAP`` of a pixel
    onto it.) Axes after the spatial ones (channels, a group axis) move alike.

    Args:
      x: images ``(N, H, W, ...)``, at least 4 axes.

    Returns:
      an array of ``x``'s shape (at least float32).

    >>> import jax, jax.numpy as jnp
    >>> from symjax import actions
    >>> x = jax.random.normal(jax.random.key(0), (1, 7, 7, 2))
    >>> t = 1e-3
    >>> fd = (actions.rotate_image(x, t) - actions.rotate_image(x, -t)) / (2 * t)
    >>> bool(jnp.allclose(rotation_tangent(x), fd, atol=2e-2))  # the gap is O(t)
    True
    """
    x = jnp.asarray(x)
    if x.ndim < 4:
        raise ValueError(f"rotation_tangent expects images (N, H, W, ...) with at least 4 axes, got shape {x.shape}")
    x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    h, w = x.shape[1:3]
    rows = jnp.arange(h, dtype=x.dtype).reshape((h, 1) + (1,) * (x.ndim - 3))
    cols = jnp.arange(w, dtype=x.dtype).reshape((1, w) + (1,) * (x.ndim - 3))
    d_row, d_col = _central_gradients(x)
    return (cols - (w - 1) / 2) * d_row + ((h - 1) / 2 - rows) * d_col


def _lie(y: jax.Array, dy: jax.Array) -> jax.Array:
    """The Lie derivative of one output from its value and its jvp: minus the output's own rotation if spatial."""
    return dy - rotation_tangent(y) if y.ndim >= 4 else dy


def lie_derivative(f: Callable, x: jax.Array) -> jax.Array:
    """The Lie derivative of ``f`` along rotations at ``x`` (Gruver et al., ICLR 2023): local equivariance error.

    ``d/dt rot_{-t} f(rot_t x)`` at ``t = 0``, computed as
    ``jax.jvp(f, x, rotation_tangent(x)) - rotation_tangent(f(x))``: zero when
    ``f`` commutes with every small rotation. Outputs ``(N, H, W, ...)`` are
    rotated spatially (channels and group axes alike); outputs with fewer than
    4 axes (logits) are taken as invariant, so it is ``d/dt f(rot_t x)``.
    An exactly C4-equivariant network (symjax G-CNN) is not zero: it is
    equivariant to quarter turns only.

    Args:
      f: a function of images ``(N, H, W, C)`` (e.g. ``lambda x: model.apply(variables, x)``).
      x: the images.

    Returns:
      an array of ``f(x)``'s shape.

    >>> import jax, jax.numpy as jnp
    >>> x = jax.random.normal(jax.random.key(0), (2, 7, 7, 1))
    >>> float(jnp.max(jnp.abs(lie_derivative(lambda x: 2.0 * x, x))))  # commutes with rotations
    0.0
    >>> bool(jnp.max(jnp.abs(lie_derivative(lambda x: x[:, :, :, 0].sum(1), x))) > 0)
    True
    """
    x = jnp.asarray(x)
    y, dy = jax.jvp(f, (x,), (rotation_tangent(x).astype(x.dtype),))
    return _lie(y, dy)


def layer_lie_derivatives(model: Any, x: jax.Array, *, variables: Any = None, **kwargs) -> dict[str, jax.Array]:
    """The Lie derivative of every layer's output (:func:`layer_outputs`), relative to the output: ``||Lf|| / ||f||``.

    The norms are over the whole batch (root of the sum of squares). As
    :func:`layer_equivariance_errors`, the measure is cumulative (the model up
    to each layer), so the layer where it jumps is the one that breaks the
    rotation symmetry; Gruver et al. split the output's Lie derivative into
    per-layer contributions instead, which sum to it.

    Args:
      model: a Linen model (with ``variables``) or an NNX module.
      x: images ``(N, H, W, C)``.
      variables: the Linen variables; ``None`` for NNX.
      **kwargs: passed to the model's call.

    Returns:
      ``{name: ||Lie derivative|| / ||output||}`` (float32 scalars), floating outputs only.

    >>> import jax, jax.numpy as jnp
    >>> import flax.linen as fnn
    >>> model = fnn.Sequential([fnn.Conv(2, (3, 3)), lambda y: y.mean((1, 2))])
    >>> x = jax.random.normal(jax.random.key(0), (2, 7, 7, 1))
    >>> sorted(layer_lie_derivatives(model, x, variables=model.init(jax.random.key(1), x)))
    ['layers_0', 'output']
    """
    outputs = _outputs_fn(model, variables)
    x = jnp.asarray(x)

    def measure(x):
        ys, dys = jax.jvp(lambda x: outputs(x, **kwargs), (x,), (rotation_tangent(x).astype(x.dtype),))
        out = {}
        for name, y in ys.items():
            if isinstance(y, jax.Array) and jnp.issubdtype(y.dtype, jnp.inexact) and y.ndim >= 1:
                size = jnp.linalg.norm(y.astype(jnp.float32).ravel())
                lie = jnp.linalg.norm(_lie(y, dys[name]).astype(jnp.float32).ravel())
                out[name] = lie / jnp.where(size > 0, size, 1.0)
        return out

    return jax.jit(measure)(x)
