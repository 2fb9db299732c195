"""Pure train and eval steps: ``(state, batch) -> (state, metrics)``, for the Trainer or a loop of your own.

The steps are plain functions of pytrees, not jitted: wrap them in
``jax.jit`` (with shardings, donation or compiler options as you like).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct

from symjax._prng import is_typed_key
from symjax.train._adapters import model_adapter

PyTree = Any
Batch = Mapping[str, Any]
Metrics = dict[str, jax.Array]

SKIPPED = "skipped"
"""The metric that is 1 for a step the non-finite guard skipped, else 0."""

__all__ = ["TrainState", "make_train_step", "make_eval_step", "effective", "take_rows", "SKIPPED"]


@struct.dataclass
class TrainState:
    """Everything a training run needs to continue exactly: a pytree.

    Attributes:
      step: int32 scalar, the number of applied (not skipped) optimizer steps.
      epoch: int32 scalar, the number of epochs :meth:`Trainer.fit` has completed.
      params: the trained parameters (``theta`` under symmetry removal). Linen:
        the ``params`` collection; NNX: the ``nnx.Param`` state.
      opt_state: the optimizer state.
      model_state: the rest of the model's variables. Linen: a dict of the
        other collections (e.g. ``{"batch_stats": ...}``); NNX: the
        non-``Param`` state (batch statistics, RNG streams).
      rng: a typed PRNG key, split once per step (Linen ``dropout`` stream).
      removal: the :class:`symjax.symmetry.SymmetryRemoval` (offsets) of a
        trainer with ``symmetry_removal``, else ``None``.

    >>> import jax, jax.numpy as jnp
    >>> state = TrainState(step=jnp.int32(0), epoch=jnp.int32(0), params={"w": jnp.zeros(2)},
    ...                    opt_state=(), model_state={}, rng=jax.random.key(0), removal=None)
    >>> int(state.replace(step=state.step + 1).step)
    1
    """

    step: jax.Array
    epoch: jax.Array
    params: PyTree
    opt_state: PyTree
    model_state: PyTree
    rng: jax.Array
    removal: Any = None


def effective(params: PyTree, removal: Any) -> PyTree:
    """The parameters the model sees: ``removal.apply(params)`` (``theta + theta0``), or ``params``."""
    return params if removal is None else removal.apply(params)


def take_rows(tree: PyTree, index: jax.Array) -> PyTree:
    """Rows ``index`` of every leaf of ``tree`` (leading example axis): the real examples of a padded batch."""
    return jax.tree.map(lambda leaf: jnp.take(leaf, index, axis=0), tree)


def _check_common(loss_fn: Any, input_key: Any) -> None:
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(outputs, batch), got {type(loss_fn).__name__}")
    if not isinstance(input_key, str):
        raise TypeError(f"input_key must be a str (a key of every batch), got {type(input_key).__name__}")


def _check_optimizer(optimizer: Any) -> None:
    if not (callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))):
        raise TypeError(
            f"optimizer must be an optax.GradientTransformation (with init and update), "
            f"got {type(optimizer).__name__}"
        )


def _check_symmetry_removal(symmetry_removal: Any) -> None:
    if symmetry_removal is not None and not (
        callable(getattr(symmetry_removal, "init", None)) and hasattr(symmetry_removal, "weight_decay")
    ):
        raise TypeError(
            "symmetry_removal must be None or a symjax.symmetry.Syre config "
            f"(with init(params) and weight_decay), got {type(symmetry_removal).__name__}"
        )


def _loss_and_metrics(loss_fn: Callable, outputs: Any, batch: Batch) -> tuple[jax.Array, Metrics]:
    """``loss_fn(outputs, batch)`` as ``(float32 scalar loss, dict of float32 scalar metrics)``."""
    result = loss_fn(outputs, batch)
    if isinstance(result, tuple):
        if len(result) != 2 or not isinstance(result[1], Mapping):
            raise TypeError(
                "loss_fn must return a scalar loss or a pair (loss, dict_of_metrics), "
                f"got a tuple of {len(result)} items"
            )
        loss, metrics = result
    else:
        loss, metrics = result, {}
    if jnp.shape(loss) != ():
        raise ValueError(f"loss_fn must return a scalar loss, got shape {jnp.shape(loss)}")
    bad = [k for k, v in metrics.items() if jnp.shape(v) != ()]
    if bad:
        raise ValueError(f"loss_fn metrics must be scalars, got non-scalar metrics {bad}")
    return jnp.asarray(loss, jnp.float32), {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}


def _select(flag: jax.Array, new: PyTree, old: PyTree) -> PyTree:
    """``new`` where ``flag`` else ``old``, leaf by leaf (PRNG keys included)."""

    def pick(n, o):
        if is_typed_key(n):
            data = jnp.where(flag, jax.random.key_data(n), jax.random.key_data(o))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(n))
        return jnp.where(flag, n, o)

    return jax.tree.map(pick, new, old)


def _all_finite(tree: PyTree) -> jax.Array:
    flags = [
        jnp.all(jnp.isfinite(leaf))
        for leaf in jax.tree.leaves(tree)
        if not is_typed_key(leaf) and jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)
    ]
    return jnp.all(jnp.stack(flags)) if flags else jnp.bool_(True)


def _check_removal(state: TrainState, symmetry_removal: Any) -> None:
    if symmetry_removal is not None and state.removal is None:
        raise ValueError(
            "state.removal must hold the offsets of symmetry_removal (symmetry_removal.init(params)), got None"
        )
    if symmetry_removal is None and state.removal is not None:
        raise ValueError(
            "state.removal is set but the step was built with symmetry_removal=None; "
            "pass the Syre config that drew the offsets"
        )


def make_train_step(
    adapter_or_model: Any,
    optimizer: optax.GradientTransformation,
    loss_fn: Callable[[Any, Batch], Any],
    *,
    input_key: str = "x",
    symmetry_removal: Any = None,
) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
    """Build the pure train step of :meth:`Trainer.step`: ``(state, batch) -> (state, metrics)``, not jitted.

    The step splits ``state.rng``, calls the model in train mode on
    ``batch[input_key]`` with the effective parameters, differentiates the
    loss (plus the syre penalty under ``symmetry_removal``) with respect to
    ``state.params``, applies ``optimizer`` and counts the step. A step whose
    loss, gradients, new parameters or new model state are not all finite
    returns ``state`` unchanged and ``skipped = 1``.

    Args:
      adapter_or_model: a Linen or NNX module, or a :class:`ModelAdapter`.
      optimizer: an ``optax.GradientTransformation``.
      loss_fn: ``loss_fn(outputs, batch) -> loss`` or ``(loss, metrics_dict)``, scalars.
      input_key: the batch entry the model is called on.
      symmetry_removal: ``None`` or a :class:`symjax.symmetry.Syre` config;
        then ``state.removal`` must hold its offsets (``symmetry_removal.init(params)``).

    Returns:
      ``step(state, batch) -> (state, metrics)``: metrics holds ``loss`` (the
      data loss), the ``loss_fn`` metrics, ``penalty`` (under symmetry
      removal), ``grad_norm`` and ``skipped`` (int32).

    >>> import jax, jax.numpy as jnp, optax, flax.linen as nn
    >>> from symjax.train import TrainState, make_train_step, model_adapter
    >>> x = jax.random.normal(jax.random.key(0), (32, 4))
    >>> batch = {"x": x, "y": x @ jnp.arange(4.0)}
    >>> adapter, optimizer = model_adapter(nn.Dense(1)), optax.adam(0.1)
    >>> params, model_state = adapter.init(jax.random.key(1), x)
    >>> state = TrainState(step=jnp.int32(0), epoch=jnp.int32(0), params=params,
    ...                    opt_state=optimizer.init(params), model_state=model_state, rng=jax.random.key(2))
    >>> mse = lambda out, b: jnp.mean((out[:, 0] - b["y"]) ** 2)
    >>> step = jax.jit(make_train_step(adapter, optimizer, mse))
    >>> state, first = step(state, batch)
    >>> for _ in range(49):
    ...     state, metrics = step(state, batch)
    >>> bool(metrics["loss"] < 0.1 * first["loss"]), int(state.step), sorted(metrics)
    (True, 50, ['grad_norm', 'loss', 'skipped'])
    """
    adapter = model_adapter(adapter_or_model)
    _check_optimizer(optimizer)
    _check_common(loss_fn, input_key)
    _check_symmetry_removal(symmetry_removal)

    def objective(params, model_state, removal, batch, rng):
        outputs, model_state = adapter.apply(
            effective(params, removal), model_state, batch[input_key], rng, train=True
        )
        loss, metrics = _loss_and_metrics(loss_fn, outputs, batch)
        total = loss
        if removal is not None:
            penalty = removal.penalty(params, symmetry_removal.weight_decay)
            total = loss + penalty
            metrics = {**metrics, "penalty": penalty}
        return total, (loss, metrics, model_state)

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        _check_removal(state, symmetry_removal)
        rng, step_rng = jax.random.split(state.rng)
        grad_fn = jax.value_and_grad(objective, has_aux=True)
        (total, (loss, metrics, model_state)), grads = grad_fn(
            state.params, state.model_state, state.removal, batch, step_rng
        )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        finite = jnp.isfinite(total) & _all_finite((grads, params, model_state))
        new = state.replace(
            step=state.step + 1, params=params, opt_state=opt_state, model_state=model_state, rng=rng
        )
        metrics = {
            "loss": loss,
            **metrics,
            "grad_norm": optax.tree.norm(grads),
            SKIPPED: jnp.where(finite, 0, 1).astype(jnp.int32),
        }
        return _select(finite, new, state), metrics

    return train_step


def make_eval_step(
    adapter_or_model: Any, loss_fn: Callable[[Any, Batch], Any], *, input_key: str = "x"
) -> Callable[[TrainState, Batch], Metrics]:
    """Build the pure eval step: ``(state, batch) -> {"loss": ..., **loss_fn metrics}``, in eval mode, not jitted.

    The model sees the effective parameters (``theta + theta0`` when
    ``state.removal`` is set) and ``state.model_state``; nothing is updated.

    Args:
      adapter_or_model: a Linen or NNX module, or a :class:`ModelAdapter`.
      loss_fn: ``loss_fn(outputs, batch) -> loss`` or ``(loss, metrics_dict)``, scalars.
      input_key: the batch entry the model is called on.

    Returns:
      ``eval_step(state, batch, index=None) -> metrics``: float32 scalars,
      ``loss`` first. ``index`` (int, ``(n,)``), for a padded batch: the
      rows of the real examples; the loss sees only those rows of the
      outputs and of the batch (the model runs on all of them).

    >>> import jax, jax.numpy as jnp, flax.linen as nn
    >>> from symjax.train import TrainState, make_eval_step, model_adapter
    >>> adapter = model_adapter(nn.Dense(1))
    >>> params, model_state = adapter.init(jax.random.key(0), jnp.ones((4, 2)))
    >>> state = TrainState(step=jnp.int32(0), epoch=jnp.int32(0), params=params, opt_state=(),
    ...                    model_state=model_state, rng=jax.random.key(1))
    >>> eval_step = jax.jit(make_eval_step(adapter, lambda out, b: (jnp.mean(out * 0), {"one": 1.0})))
    >>> eval_step(state, {"x": jnp.ones((4, 2))})
    {'loss': Array(0., dtype=float32), 'one': Array(1., dtype=float32)}
    >>> padded = {"x": jnp.arange(8.0).reshape(4, 2)}
    >>> first_row = make_eval_step(adapter, lambda out, b: jnp.mean(b["x"]))
    >>> first_row(state, padded, jnp.array([0]))["loss"]
    Array(0.5, dtype=float32)
    """
    adapter = model_adapter(adapter_or_model)
    _check_common(loss_fn, input_key)

    def eval_step(state: TrainState, batch: Batch, index: jax.Array | None = None) -> Metrics:
        params = effective(state.params, state.removal)
        outputs, _ = adapter.apply(params, state.model_state, batch[input_key], None, train=False)
        if index is not None:
            outputs, batch = take_rows((outputs, batch), index)
        loss, metrics = _loss_and_metrics(loss_fn, outputs, batch)
        return {"loss": loss, **metrics}

    return eval_step
