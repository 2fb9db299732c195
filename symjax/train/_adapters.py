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


TRUE_IN_TRAINING = ("train", "training", "is_training")
"""Keywords of a Linen ``__call__`` recognised as the train/eval flag, ``True`` when training."""

FALSE_IN_TRAINING = ("deterministic", "use_running_average", "eval", "is_eval", "inference")
"""Keywords of a Linen ``__call__`` recognised as the train/eval flag, ``False`` when training."""


def _call_parameters(module: linen.Module) -> tuple[dict[str, inspect.Parameter], bool]:
    """The keyword parameters of ``module.__call__`` and whether it takes ``**kwargs``."""
    parameters = inspect.signature(type(module).__call__).parameters
    var_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    named = {
        name: p
        for name, p in parameters.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    return named, var_keyword


def _mode_keyword(module: linen.Module, train_kwarg: Any) -> tuple[str, bool] | None:
    """``(keyword, its value in training)`` of the model's train/eval flag, or ``None`` (no flag)."""
    named, var_keyword = _call_parameters(module)
    if train_kwarg is False:
        return None
    if train_kwarg is None:
        found = [(n, True) for n in TRUE_IN_TRAINING if n in named]
        found += [(n, False) for n in FALSE_IN_TRAINING if n in named]
        if len(found) > 1:
            raise ValueError(
                f"train_kwarg: {type(module).__name__}.__call__ takes several train/eval keywords "
                f"{[n for n, _ in found]}; name the one to set, e.g. train_kwarg={found[0][0]!r} "
                f"(True in training) or train_kwarg=({found[0][0]!r}, False) (False in training)"
            )
        return found[0] if found else None
    if isinstance(train_kwarg, str):
        name, value = train_kwarg, True
    elif (
        isinstance(train_kwarg, tuple)
        and len(train_kwarg) == 2
        and isinstance(train_kwarg[0], str)
        and isinstance(train_kwarg[1], bool)
    ):
        name, value = train_kwarg
    else:
        raise TypeError(
            "train_kwarg must be None (recognise the keyword), a keyword name (True in training), "
            f"a pair (name, value in training) or False (no keyword), got {train_kwarg!r}"
        )
    if name not in named and not var_keyword:
        raise ValueError(
            f"train_kwarg names {name!r}, but {type(module).__name__}.__call__ takes no such keyword; "
            f"its keywords are {sorted(n for n in named if n != 'self')}"
        )
    return name, value


class _DropoutSpy:
    """An ``nn.intercept_methods`` interceptor that records the ``nn.Dropout`` layers (rate not 0) called."""

    def __init__(self):
        self.paths: list[str] = []

    def __call__(self, next_fun, args, kwargs, context):
        module = context.module
        if isinstance(module, linen.Dropout) and not (isinstance(module.rate, (int, float)) and module.rate == 0):
            self.paths.append("/".join(module.scope.path) if module.scope is not None else module.name)
        return next_fun(*args, **kwargs)


class LinenAdapter(ModelAdapter):
    """A ``flax.linen.Module`` as a :class:`ModelAdapter`.

    Train and eval mode: the module's ``__call__`` keyword named by
    ``train_kwarg`` gets its training value in train mode and the opposite in
    eval mode (and at :meth:`init`). By default (``train_kwarg=None``) the
    keyword is recognised by its name: ``train``, ``training`` or
    ``is_training`` (``True`` when training), ``deterministic``,
    ``use_running_average``, ``eval``, ``is_eval`` or ``inference``
    (``False`` when training). ``params`` is the ``params`` collection;
    ``model_state`` a dict of the other collections (e.g.
    ``{"batch_stats": ...}``), all mutable when training. ``rng`` feeds the
    ``dropout`` stream.

    A model without such a keyword is called the same way in both modes, so
    its batch statistics would never update and its dropout would stay off
    (or never turn off): :meth:`init` raises ValueError when it finds batch
    statistics (any collection besides ``params``) or an ``nn.Dropout`` layer
    (of non-zero rate, seen by ``nn.intercept_methods`` during ``init``) and
    no keyword was recognised or given. ``train_kwarg=False`` says the model
    switches modes otherwise (e.g. a module attribute) and skips the check.

    :meth:`init` draws the ``params`` and ``dropout`` keys as the second and
    third of ``jax.random.split(key, 3)``; the first is left to the caller
    (the trainer keeps it as ``state.rng``).

    Args:
      module: the Linen module.
      train_kwarg: ``None`` (recognise the keyword, above); a keyword name,
        ``True`` in training (``"training"``); a pair ``(name, value in
        training)`` (``("deterministic", False)``); or ``False`` (the model
        takes no such keyword).

    Raises:
      TypeError: ``module`` is not a Linen module, or ``train_kwarg`` is none of the above.
      ValueError: ``__call__`` takes no keyword ``train_kwarg`` names, or
        several recognised ones and ``train_kwarg`` is ``None``.

    >>> import jax, jax.numpy as jnp, flax.linen as nn
    >>> adapter = LinenAdapter(nn.BatchNorm(momentum=0.9))  # __call__(x, use_running_average)
    >>> x = jnp.arange(24.0).reshape(8, 3)
    >>> params, model_state = adapter.init(jax.random.key(0), x)
    >>> sorted(params), sorted(model_state)
    (['bias', 'scale'], ['batch_stats'])
    >>> _, new_state = adapter.apply(params, model_state, x, jax.random.key(1), train=True)
    >>> new_state["batch_stats"]["mean"].round(2).tolist()  # 0.1 * the batch mean
    [1.05, 1.15, 1.25]
    >>> class Net(nn.Module):
    ...     @nn.compact
    ...     def __call__(self, x, mode: str = "eval"):
    ...         return nn.BatchNorm(use_running_average=mode == "eval")(x)
    >>> LinenAdapter(Net()).init(jax.random.key(0), x)
    Traceback (most recent call last):
    ...
    ValueError: train_kwarg: ...
    >>> LinenAdapter(Net(), train_kwarg=False).mode_kwargs(train=True)
    {}
    """

    def __init__(self, module: linen.Module, train_kwarg: str | tuple[str, bool] | bool | None = None):
        if not isinstance(module, linen.Module):
            raise TypeError(f"module must be a flax.linen.Module, got {type(module).__name__}")
        self.module = module
        self.train_kwarg = train_kwarg
        self._mode = _mode_keyword(module, train_kwarg)

    def mode_kwargs(self, train: bool) -> dict[str, bool]:
        """The keyword arguments of a call in train (``True``) or eval mode: ``{name: value}`` or ``{}``."""
        if self._mode is None:
            return {}
        name, value = self._mode
        return {name: value if train else not value}

    def init(self, key: jax.Array, x: Any) -> tuple[PyTree, dict[str, PyTree]]:
        """``module.init`` in eval mode: ``(params collection, dict of the other collections)``.

        Args:
          key: a PRNG key (see the class docstring for the keys drawn from it).
          x: an example input, leading example axis.

        Returns:
          ``(params, model_state)``.

        Raises:
          ValueError: the model has batch statistics or dropout but no
            train/eval keyword (see the class docstring).
        """
        _, k_params, k_dropout = jax.random.split(typed_key(key), 3)
        spy = _DropoutSpy()
        rngs = {"params": k_params, "dropout": k_dropout}
        with linen.intercept_methods(spy):
            variables = dict(self.module.init(rngs, x, **self.mode_kwargs(False)))
        if "params" not in variables:
            raise ValueError("model must create a 'params' collection; model.init returned none")
        params = variables.pop("params")
        if self._mode is None and self.train_kwarg is None and (variables or spy.paths):
            self._refuse_modeless(sorted(variables), spy.paths)
        return params, variables

    def _refuse_modeless(self, collections: list[str], dropout: list[str]) -> None:
        found = []
        if collections:
            found.append(f"the variable collections {collections} (e.g. batch statistics, updated in training)")
        if dropout:
            found.append(f"dropout layers {sorted(set(dropout))}")
        raise ValueError(
            f"train_kwarg: {type(self.module).__name__} has {' and '.join(found)}, but its __call__ takes none "
            f"of the train/eval keywords {list(TRUE_IN_TRAINING)} (True in training) or "
            f"{list(FALSE_IN_TRAINING)} (False in training), so train and eval calls would be the same. "
            "Name the keyword: train_kwarg='name' (True in training) or train_kwarg=('name', False) "
            "(False in training); or train_kwarg=False if the model switches modes by other means"
        )

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
            return self.module.apply(variables, x, **self.mode_kwargs(False)), model_state
        rngs = {"dropout": rng}
        if not model_state:
            return self.module.apply(variables, x, rngs=rngs, **self.mode_kwargs(True)), model_state
        outputs, updates = self.module.apply(
            variables, x, rngs=rngs, mutable=list(model_state), **self.mode_kwargs(True)
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


def model_adapter(model: Any, *, train_kwarg: str | tuple[str, bool] | bool | None = None) -> ModelAdapter:
    """The adapter for ``model``: a Linen or NNX module, or a :class:`ModelAdapter` (returned as is).

    Args:
      model: a ``flax.linen.Module``, a ``flax.nnx.Module`` or a :class:`ModelAdapter`.
      train_kwarg: the train/eval keyword of a Linen model (see
        :class:`LinenAdapter`); must be ``None`` for other models.

    Returns:
      A :class:`LinenAdapter`, an :class:`NNXAdapter` or ``model`` itself.

    Raises:
      TypeError: ``model`` is none of these, or ``train_kwarg`` is given for a model that is not Linen.

    >>> import flax.linen as nn
    >>> type(model_adapter(nn.Dense(2))).__name__
    'LinenAdapter'
    >>> model_adapter(nn.Dropout(0.1), train_kwarg=("deterministic", False)).mode_kwargs(train=True)
    {'deterministic': False}
    """
    if isinstance(model, linen.Module):
        return LinenAdapter(model, train_kwarg)
    if train_kwarg is not None:
        raise TypeError(
            f"train_kwarg applies to flax.linen models only (NNX modules switch with .train()/.eval(), "
            f"an adapter decides itself), got train_kwarg={train_kwarg!r} for a {type(model).__name__}"
        )
    if isinstance(model, ModelAdapter):
        return model
    if isinstance(model, nnx.Module):
        return NNXAdapter(model)
    raise TypeError(
        f"model must be a flax.linen.Module, a flax.nnx.Module or a symjax.train.ModelAdapter, "
        f"got {type(model).__name__}"
    )
