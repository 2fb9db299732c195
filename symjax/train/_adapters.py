"""Model adapters: Linen and NNX models behind one functional interface (``init``, ``apply``).

An adapter turns a model into two pure functions of arrays: ``init(key, x) ->
(params, model_state)`` and ``apply(params, model_state, x, rng, train) ->
(outputs, model_state)``. The step builders (:func:`symjax.train.make_train_step`)
and the :class:`symjax.train.Trainer` only ever call these two, so a new kind
of model needs one new adapter and nothing else.
"""

from __future__ import annotations

import inspect
from typing import Any

import flax.linen as linen
import jax
from flax import nnx

from symjax._prng import typed_key

PyTree = Any

__all__ = ["ModelAdapter", "LinenAdapter", "NNXAdapter", "model_adapter"]


class ModelAdapter:
    """The interface of a model to the training code: two pure functions of arrays.

    Subclass it to train a model that is neither a Linen nor an NNX module;
    :func:`model_adapter` passes an instance through unchanged.

    Attributes:
      compile_init: whether callers should ``jax.jit`` :meth:`init` (``False``
        when ``init`` only returns arrays it already holds: ``jit`` would
        embed them in the program as constants).

    >>> import jax.numpy as jnp
    >>> class Scale(ModelAdapter):
    ...     def init(self, key, x):
    ...         return {"w": jnp.ones(())}, {}
    ...     def apply(self, params, model_state, x, rng, train):
    ...         return params["w"] * x, model_state
    >>> adapter = Scale()
    >>> params, model_state = adapter.init(None, jnp.ones(3))
    >>> adapter.apply(params, model_state, jnp.arange(3.0), None, train=False)[0]
    Array([0., 1., 2.], dtype=float32)
    """

    compile_init: bool = True

    def init(self, key: jax.Array, x: Any) -> tuple[PyTree, PyTree]:
        """The initial ``(params, model_state)`` for inputs like ``x`` (a batch, leading example axis)."""
        raise NotImplementedError(f"{type(self).__name__} must define init(key, x)")

    def apply(
        self, params: PyTree, model_state: PyTree, x: Any, rng: jax.Array | None, train: bool
    ) -> tuple[Any, PyTree]:
        """``(outputs, model_state)`` on ``x``; ``rng`` is ``None`` and ``model_state`` unchanged unless ``train``."""
        raise NotImplementedError(f"{type(self).__name__} must define apply(params, model_state, x, rng, train)")


def _mode_kwargs(module: linen.Module, train: bool) -> dict[str, bool]:
    """The train/eval keyword a Linen ``__call__`` accepts, if any (``train``, else a negated one)."""
    names = inspect.signature(type(module).__call__).parameters
    if "train" in names:
        return {"train": train}
    if "use_running_average" in names:
        return {"use_running_average": not train}
    if "deterministic" in names:
        return {"deterministic": not train}
    return {}


class LinenAdapter(ModelAdapter):
    """A ``flax.linen.Module`` as a :class:`ModelAdapter`.

    Train and eval mode: if the module's ``__call__`` takes ``train`` it gets
    ``train=True`` when training and ``train=False`` otherwise (likewise
    ``use_running_average`` or ``deterministic``, negated). ``params`` is the
    ``params`` collection; ``model_state`` a dict of the other collections
    (e.g. ``{"batch_stats": ...}``), all mutable when training. ``rng`` feeds
    the ``dropout`` stream.

    :meth:`init` draws the ``params`` and ``dropout`` keys as the second and
    third of ``jax.random.split(key, 3)``; the first is left to the caller
    (the trainer keeps it as ``state.rng``).

    Args:
      module: the Linen module.

    >>> import jax, jax.numpy as jnp, flax.linen as nn
    >>> adapter = LinenAdapter(nn.BatchNorm(momentum=0.9))  # __call__(x, use_running_average)
    >>> x = jnp.arange(24.0).reshape(8, 3)
    >>> params, model_state = adapter.init(jax.random.key(0), x)
    >>> sorted(params), sorted(model_state)
    (['bias', 'scale'], ['batch_stats'])
    >>> _, new_state = adapter.apply(params, model_state, x, jax.random.key(1), train=True)
    >>> new_state["batch_stats"]["mean"].round(2).tolist()  # 0.1 * the batch mean
    [1.05, 1.15, 1.25]
    """

    def __init__(self, module: linen.Module):
        if not isinstance(module, linen.Module):
            raise TypeError(f"module must be a flax.linen.Module, got {type(module).__name__}")
        self.module = module
        self._train_kwargs = _mode_kwargs(module, True)
        self._eval_kwargs = _mode_kwargs(module, False)

    def init(self, key: jax.Array, x: Any) -> tuple[PyTree, dict[str, PyTree]]:
        """``module.init`` in eval mode: ``(params collection, dict of the other collections)``.

        Args:
          key: a PRNG key (see the class docstring for the keys drawn from it).
          x: an example input, leading example axis.

        Returns:
          ``(params, model_state)``.
        """
        _, k_params, k_dropout = jax.random.split(typed_key(key), 3)
        variables = dict(self.module.init({"params": k_params, "dropout": k_dropout}, x, **self._eval_kwargs))
        if "params" not in variables:
            raise ValueError("model must create a 'params' collection; model.init returned none")
        params = variables.pop("params")
        return params, variables

    def apply(
        self, params: PyTree, model_state: dict[str, PyTree], x: Any, rng: jax.Array | None, train: bool
    ) -> tuple[Any, dict[str, PyTree]]:
        """``module.apply`` in train or eval mode: ``(outputs, updated model_state)``.

        Args:
          params: the ``params`` collection.
          model_state: the other collections.
          x: the input, leading example axis.
          rng: the ``dropout`` key when ``train`` (ignored otherwise).
          train: train mode (non-``params`` collections mutable) or eval mode.

        Returns:
          ``(outputs, model_state)``; ``model_state`` unchanged in eval mode.
        """
        variables = {"params": params, **model_state}
        if not train:
            return self.module.apply(variables, x, **self._eval_kwargs), model_state
        rngs = {"dropout": rng}
        if not model_state:
            return self.module.apply(variables, x, rngs=rngs, **self._train_kwargs), model_state
        outputs, updates = self.module.apply(
            variables, x, rngs=rngs, mutable=list(model_state), **self._train_kwargs
        )
        return outputs, {**model_state, **updates}


class NNXAdapter(ModelAdapter):
    """A ``flax.nnx.Module`` as a :class:`ModelAdapter`, working on a copy of the module.

    The module passed in is never modified. ``params`` is its ``nnx.Param``
    state, ``model_state`` the rest (batch statistics, its own ``nnx.Rngs``
    streams); :meth:`apply` runs a copy in ``.train()`` or ``.eval()`` mode.
    :meth:`init` returns the parameters the module was built with (``key``
    and ``x`` are not used); ``rng`` is not used either (the module draws
    from its own streams).

    Args:
      module: the NNX module.

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> adapter = NNXAdapter(nnx.Linear(3, 4, rngs=nnx.Rngs(0)))
    >>> params, model_state = adapter.init(jax.random.key(0), jnp.ones((8, 3)))
    >>> adapter.apply(params, model_state, jnp.ones((8, 3)), None, train=False)[0].shape
    (8, 4)
    """

    compile_init = False

    def __init__(self, module: nnx.Module):
        if not isinstance(module, nnx.Module):
            raise TypeError(f"module must be a flax.nnx.Module, got {type(module).__name__}")
        self.module = module
        copy = nnx.merge(*nnx.split(module))
        copy.train()
        self._graph_train, self._params, self._rest = nnx.split(copy, nnx.Param, ...)
        copy.eval()
        self._graph_eval = nnx.split(copy, nnx.Param, ...)[0]

    def init(self, key: jax.Array, x: Any) -> tuple[nnx.State, nnx.State]:
        """The module's own ``(nnx.Param state, rest of its state)``; ``key`` and ``x`` are not used."""
        return self._params, self._rest

    def apply(
        self, params: nnx.State, model_state: nnx.State, x: Any, rng: jax.Array | None, train: bool
    ) -> tuple[Any, nnx.State]:
        """Call a copy of the module in ``.train()`` or ``.eval()`` mode: ``(outputs, updated model_state)``.

        Args:
          params: the ``nnx.Param`` state.
          model_state: the rest of the module's state.
          x: the input, leading example axis.
          rng: not used.
          train: train mode (model state updated) or eval mode.

        Returns:
          ``(outputs, model_state)``; ``model_state`` unchanged in eval mode.
        """
        module = nnx.merge(self._graph_train if train else self._graph_eval, params, model_state, copy=True)
        outputs = module(x)
        if not train:
            return outputs, model_state
        return outputs, nnx.split(module, nnx.Param, ...)[2]


def model_adapter(model: Any) -> ModelAdapter:
    """The adapter for ``model``: a Linen or NNX module, or a :class:`ModelAdapter` (returned as is).

    Args:
      model: a ``flax.linen.Module``, a ``flax.nnx.Module`` or a :class:`ModelAdapter`.

    Returns:
      A :class:`LinenAdapter`, an :class:`NNXAdapter` or ``model`` itself.

    Raises:
      TypeError: ``model`` is none of these.

    >>> import flax.linen as nn
    >>> type(model_adapter(nn.Dense(2))).__name__
    'LinenAdapter'
    """
    if isinstance(model, ModelAdapter):
        return model
    if isinstance(model, linen.Module):
        return LinenAdapter(model)
    if isinstance(model, nnx.Module):
        return NNXAdapter(model)
    raise TypeError(
        f"model must be a flax.linen.Module, a flax.nnx.Module or a symjax.train.ModelAdapter, "
        f"got {type(model).__name__}"
    )
