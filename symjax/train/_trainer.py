"""The Trainer: jitted, data-parallel training of Linen and NNX models, with symmetry removal.

The state of a run is one pytree, :class:`TrainState`; every step is a pure
function of the state and a batch, so a run that is saved, restored and
continued produces bitwise the same parameters as a run that never stopped.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import sys
import time
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from typing import Any, Callable

import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from symjax import symmetry, xla
from symjax.train import _checkpoint

PyTree = Any
Batch = Mapping[str, Any]

_SKIPPED = "skipped"


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


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _typed_key(key: Any, argname: str = "key") -> jax.Array:
    if _is_key(key) and key.ndim == 0:
        return key
    if isinstance(key, (jax.Array, np.ndarray)) and key.dtype == np.uint32 and key.shape == (2,):
        return jax.random.wrap_key_data(key)
    raise TypeError(
        f"{argname} must be a single PRNG key (jax.random.key(seed) or jax.random.PRNGKey(seed)), "
        f"got {type(key).__name__} {getattr(key, 'dtype', '')}{getattr(key, 'shape', '')}"
    )


def _select(flag: jax.Array, new: PyTree, old: PyTree) -> PyTree:
    """``new`` where ``flag`` else ``old``, leaf by leaf (PRNG keys included)."""

    def pick(n, o):
        if _is_key(n):
            data = jnp.where(flag, jax.random.key_data(n), jax.random.key_data(o))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(n))
        return jnp.where(flag, n, o)

    return jax.tree.map(pick, new, old)


def _all_finite(tree: PyTree) -> jax.Array:
    flags = [
        jnp.all(jnp.isfinite(leaf))
        for leaf in jax.tree.leaves(tree)
        if not _is_key(leaf) and jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)
    ]
    return jnp.all(jnp.stack(flags)) if flags else jnp.bool_(True)


def _mode_kwargs(model: linen.Module, train: bool) -> dict[str, bool]:
    """The train/eval keyword a Linen ``__call__`` accepts, if any (see :class:`Trainer`)."""
    names = inspect.signature(type(model).__call__).parameters
    if "train" in names:
        return {"train": train}
    if "use_running_average" in names:
        return {"use_running_average": not train}
    if "deterministic" in names:
        return {"deterministic": not train}
    return {}


def _path_parts(path: tuple) -> list[str]:
    parts = []
    for entry in path:
        for attr in ("key", "name", "idx"):
            if hasattr(entry, attr):
                parts.append(str(getattr(entry, attr)))
                break
    if parts and parts[-1] == "value":
        parts.pop()
    return parts


def _leaf_at(tree: PyTree, path: str, argname: str) -> jax.Array:
    """The leaf of ``tree`` at ``"a/b/c"`` (dict keys, attribute names, indices)."""
    found = {"/".join(_path_parts(p)): leaf for p, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}
    if path not in found:
        raise ValueError(f"{argname}: no parameter at path {path!r}; available paths: {sorted(found)}")
    return found[path]


class Trainer:
    """Train a Flax Linen or NNX model with any Optax optimizer, jitted and data-parallel.

    A batch is a dict of arrays sharing a leading example axis; the model is
    called on ``batch[input_key]`` and ``loss_fn(outputs, batch)`` returns a
    scalar loss or ``(loss, metrics_dict)``.

    Train and eval mode. Linen: if the model's ``__call__`` takes ``train``
    it gets ``train=True`` in :meth:`step` and ``train=False`` in
    :meth:`evaluate`/:meth:`predict` (likewise ``use_running_average`` or
    ``deterministic``, negated); every non-``params`` collection (e.g.
    ``batch_stats``) is mutable during a step and kept in
    ``state.model_state``; the ``dropout`` RNG stream comes from
    ``state.rng``. NNX: the trainer works on a copy of the module, in
    ``.train()`` mode for steps and ``.eval()`` mode otherwise (the module
    passed in is never modified); its parameters are the ones it was built
    with, and its own ``nnx.Rngs`` streams live in ``state.model_state``.

    Symmetry removal: with ``symmetry_removal=symmetry.Syre(wd, key, ...)``
    the trainer trains ``theta`` on ``loss(model(theta + theta0)) +
    removal.penalty(theta, wd)``; the offsets ``theta0`` live in
    ``state.removal`` and :meth:`effective_params` returns ``theta + theta0``.
    Combine it with an optimizer without weight decay of its own (e.g.
    ``optax.adam``); ``symjax.optim.syre_adamw`` is the equivalent optimizer
    form and needs no ``symmetry_removal``.

    Data parallelism: the batch is sharded over the ``"data"`` axis of
    ``mesh`` (default: every device, ``jax.devices()``), the state is
    replicated. A batch whose size is not a multiple of the number of devices
    on that axis raises ValueError. On several hosts, call
    ``jax.distributed.initialize()`` first and pass each process its local
    slice of the batch; it is assembled with
    ``jax.make_array_from_process_local_data``.

    Non-finite steps: a step whose loss, gradients or updated parameters are
    not all finite leaves the state unchanged and reports ``skipped = 1`` in
    its metrics.

    Args:
      model: a ``flax.linen.Module`` or ``flax.nnx.Module``.
      optimizer: an ``optax.GradientTransformation``.
      loss_fn: ``loss_fn(outputs, batch) -> loss`` or ``(loss, metrics)``.
      input_key: the batch entry the model is called on.
      symmetry_removal: ``None`` or a :class:`symjax.symmetry.Syre` config.
      mesh: a ``jax.sharding.Mesh`` with a ``"data"`` axis.

    >>> import jax, jax.numpy as jnp, optax, flax.linen as nn
    >>> x = jax.random.normal(jax.random.key(0), (32, 4))
    >>> batch = {"x": x, "y": x @ jnp.arange(4.0)}
    >>> mse = lambda out, b: jnp.mean((out[:, 0] - b["y"]) ** 2)
    >>> trainer = Trainer(nn.Dense(1), optax.adam(0.1), mse)
    >>> state = trainer.init(jax.random.key(1), batch)
    >>> state, history = trainer.fit(state, [batch], epochs=50, progress=False)
    >>> history[-1]["loss"] < 0.1 * history[0]["loss"], int(state.step)
    (True, 50)
    """

    def __init__(
        self,
        model: linen.Module | nnx.Module,
        optimizer: optax.GradientTransformation,
        loss_fn: Callable[[Any, Batch], Any],
        *,
        input_key: str = "x",
        symmetry_removal: Any = None,
        mesh: Mesh | None = None,
    ):
        if isinstance(model, linen.Module):
            self._kind = "linen"
        elif isinstance(model, nnx.Module):
            self._kind = "nnx"
        else:
            raise TypeError(
                f"model must be a flax.linen.Module or a flax.nnx.Module, got {type(model).__name__}"
            )
        if not (callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))):
            raise TypeError(
                f"optimizer must be an optax.GradientTransformation (with init and update), "
                f"got {type(optimizer).__name__}"
            )
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable as loss_fn(outputs, batch), got {type(loss_fn).__name__}")
        if not isinstance(input_key, str):
            raise TypeError(f"input_key must be a str (a key of every batch), got {type(input_key).__name__}")
        if symmetry_removal is not None and not (
            callable(getattr(symmetry_removal, "init", None)) and hasattr(symmetry_removal, "weight_decay")
        ):
            raise TypeError(
                "symmetry_removal must be None or a symjax.symmetry.Syre config "
                f"(with init(params) and weight_decay), got {type(symmetry_removal).__name__}"
            )
        if mesh is None:
            mesh = Mesh(np.asarray(jax.devices()), ("data",))
        if not isinstance(mesh, Mesh):
            raise TypeError(f"mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
        if "data" not in mesh.axis_names:
            raise ValueError(f"mesh must have a 'data' axis to shard batches over, got axes {mesh.axis_names}")

        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.input_key = input_key
        self.symmetry_removal = symmetry_removal
        self.mesh = mesh
        self.batch_sharding = NamedSharding(mesh, PartitionSpec("data"))
        self.state_sharding = NamedSharding(mesh, PartitionSpec())

        if self._kind == "nnx":
            copy = nnx.merge(*nnx.split(model))
            copy.train()
            self._graph_train, self._nnx_params, self._nnx_rest = nnx.split(copy, nnx.Param, ...)
            copy.eval()
            self._graph_eval = nnx.split(copy, nnx.Param, ...)[0]

        replicated, data = self.state_sharding, self.batch_sharding
        # Eigen convolutions on XLA:CPU (G-CNN train steps measured 1.6-1.8x faster); {} on GPU/TPU
        jit = functools.partial(jax.jit, compiler_options=xla.compiler_options(mesh.devices.flat[0].platform) or None)
        self._step = jit(self._train_step, in_shardings=(replicated, data), out_shardings=replicated)
        self._eval = jit(self._eval_step, in_shardings=(replicated, data), out_shardings=replicated)
        self._predict = jit(self._predict_fn)
        self._init_variables = jit(self._init_fn)

    # ----------------------------------------------------------------- model

    def _forward(self, params: PyTree, model_state: PyTree, x: jax.Array, rng: jax.Array | None, train: bool):
        if self._kind == "linen":
            variables = {"params": params, **model_state}
            kwargs = _mode_kwargs(self.model, train)
            if not train:
                return self.model.apply(variables, x, **kwargs), model_state
            rngs = {"dropout": rng}
            if not model_state:
                return self.model.apply(variables, x, rngs=rngs, **kwargs), model_state
            outputs, updates = self.model.apply(variables, x, rngs=rngs, mutable=list(model_state), **kwargs)
            return outputs, {**model_state, **updates}
        module = nnx.merge(self._graph_train if train else self._graph_eval, params, model_state, copy=True)
        outputs = module(x)
        if not train:
            return outputs, model_state
        return outputs, nnx.split(module, nnx.Param, ...)[2]

    def _init_fn(self, k_params: jax.Array, k_dropout: jax.Array, x: jax.Array) -> dict:
        return self.model.init({"params": k_params, "dropout": k_dropout}, x, **_mode_kwargs(self.model, False))

    def _loss(self, outputs: Any, batch: Batch) -> tuple[jax.Array, dict[str, jax.Array]]:
        result = self.loss_fn(outputs, batch)
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

    def _effective(self, params: PyTree, removal: Any) -> PyTree:
        return params if removal is None else removal.apply(params)

    def _objective(self, params, model_state, removal, batch, rng):
        outputs, model_state = self._forward(
            self._effective(params, removal), model_state, batch[self.input_key], rng, train=True
        )
        loss, metrics = self._loss(outputs, batch)
        total = loss
        if removal is not None:
            penalty = removal.penalty(params, self.symmetry_removal.weight_decay)
            total = loss + penalty
            metrics = {**metrics, "penalty": penalty}
        return total, (loss, metrics, model_state)

    def _train_step(self, state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        rng, step_rng = jax.random.split(state.rng)
        grad_fn = jax.value_and_grad(self._objective, has_aux=True)
        (total, (loss, metrics, model_state)), grads = grad_fn(
            state.params, state.model_state, state.removal, batch, step_rng
        )
        updates, opt_state = self.optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        finite = jnp.isfinite(total) & _all_finite((grads, params, model_state))
        new = state.replace(
            step=state.step + 1, params=params, opt_state=opt_state, model_state=model_state, rng=rng
        )
        metrics = {
            "loss": loss,
            **metrics,
            "grad_norm": optax.tree.norm(grads),
            _SKIPPED: jnp.where(finite, 0, 1).astype(jnp.int32),
        }
        return _select(finite, new, state), metrics

    def _eval_step(self, state: TrainState, batch: Batch) -> dict[str, jax.Array]:
        params = self._effective(state.params, state.removal)
        outputs, _ = self._forward(params, state.model_state, batch[self.input_key], None, train=False)
        loss, metrics = self._loss(outputs, batch)
        return {"loss": loss, **metrics}

    def _predict_fn(self, state: TrainState, x: jax.Array) -> Any:
        params = self._effective(state.params, state.removal)
        return self._forward(params, state.model_state, x, None, train=False)[0]

    # ----------------------------------------------------------------- input checks

    def shard(self, batch: Batch, argname: str = "batch") -> tuple[dict[str, jax.Array], int]:
        """Validate ``batch`` and lay it out over the mesh's ``"data"`` axis.

        Args:
          batch: a dict of arrays with a common leading example axis (on
            several hosts: this process's slice of the global batch).
          argname: the name used in error messages.

        Returns:
          ``(sharded_batch, global_batch_size)``.

        Raises:
          TypeError: ``batch`` is not a dict.
          ValueError: ``input_key`` is missing, leading sizes differ, or the
            size does not split evenly over the devices of the ``"data"`` axis.

        >>> import jax.numpy as jnp, optax, flax.linen as nn
        >>> trainer = Trainer(nn.Dense(1), optax.sgd(0.1), lambda out, b: jnp.mean(out))
        >>> sharded, n = trainer.shard({"x": jnp.ones((8, 3))})
        >>> n, sharded["x"].sharding.spec
        (8, P('data',))
        """
        if not isinstance(batch, Mapping):
            raise TypeError(f"{argname} must be a dict of arrays, got {type(batch).__name__}")
        if self.input_key not in batch:
            raise ValueError(
                f"{argname} must contain the input_key {self.input_key!r}, got keys {sorted(map(str, batch))}"
            )
        batch = {
            k: v if isinstance(v, jax.Array) else np.asarray(v) for k, v in batch.items()
        }
        sizes = {}
        for path, leaf in jax.tree_util.tree_flatten_with_path(batch)[0]:
            if np.ndim(leaf) == 0:
                raise ValueError(
                    f"{argname}{jax.tree_util.keystr(path)} must have a leading example axis, got a scalar"
                )
            sizes[jax.tree_util.keystr(path)] = leaf.shape[0]
        if len(set(sizes.values())) != 1:
            raise ValueError(f"{argname} arrays must share the leading (example) axis size, got {sizes}")
        devices = self.mesh.shape["data"]
        if jax.process_count() == 1:
            size = next(iter(sizes.values()))
            self._check_even(size, devices, argname)
            return jax.device_put(batch, self.batch_sharding), size
        batch = jax.tree.map(
            lambda leaf: leaf
            if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable
            else jax.make_array_from_process_local_data(self.batch_sharding, np.asarray(leaf)),
            batch,
        )
        size = jax.tree.leaves(batch)[0].shape[0]
        self._check_even(size, devices, argname)
        return batch, size

    @staticmethod
    def _check_even(size: int, devices: int, argname: str) -> None:
        if size % devices:
            raise ValueError(
                f"{argname} has batch size {size}, which does not split evenly over the {devices} "
                f"devices of the mesh's 'data' axis; use a multiple of {devices}"
            )

    @staticmethod
    def _check_state(state: Any, argname: str = "state") -> None:
        if not isinstance(state, TrainState):
            raise TypeError(f"{argname} must be a TrainState (from Trainer.init), got {type(state).__name__}")

    # ----------------------------------------------------------------- public API

    def init(self, key: jax.Array, example_batch: Batch) -> TrainState:
        """Create the initial :class:`TrainState`.

        Linen models are initialised from ``key`` on ``example_batch[input_key]``
        (in eval mode); NNX models keep the parameters they were built with and
        ``key`` seeds only ``state.rng``. The optimizer and the symmetry removal
        are initialised on the parameters.

        Args:
          key: a PRNG key.
          example_batch: a batch like the training batches.

        Returns:
          A :class:`TrainState` replicated over the mesh.

        >>> import jax, jax.numpy as jnp, optax, flax.linen as nn
        >>> trainer = Trainer(nn.Dense(3), optax.sgd(0.1), lambda out, b: jnp.mean(out ** 2))
        >>> state = trainer.init(jax.random.key(0), {"x": jnp.ones((4, 2))})
        >>> int(state.step), state.params["kernel"].shape
        (0, (2, 3))
        """
        key = _typed_key(key)
        batch, _ = self.shard(example_batch, "example_batch")
        if self._kind == "linen":
            key, k_params, k_dropout = jax.random.split(key, 3)
            variables = dict(self._init_variables(k_params, k_dropout, batch[self.input_key]))
            if "params" not in variables:
                raise ValueError("model must create a 'params' collection; model.init returned none")
            params = variables.pop("params")
            model_state = variables
        else:
            params, model_state = self._nnx_params, self._nnx_rest
        removal = None if self.symmetry_removal is None else self.symmetry_removal.init(params)
        state = TrainState(
            step=jnp.zeros((), jnp.int32),
            epoch=jnp.zeros((), jnp.int32),
            params=params,
            opt_state=self.optimizer.init(params),
            model_state=model_state,
            rng=key,
            removal=removal,
        )
        return jax.device_put(state, self.state_sharding)

    def step(self, state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        """Take one optimizer step on ``batch`` (jitted, data-parallel).

        Args:
          state: the current state.
          batch: a dict of arrays; the size of its leading axis must be a
            multiple of the number of devices on the mesh's ``"data"`` axis.

        Returns:
          ``(new_state, metrics)``: metrics holds ``loss`` (the data loss),
          the ``loss_fn`` metrics, ``penalty`` (under symmetry removal),
          ``grad_norm`` and ``skipped`` (1 when the step was not finite and the
          state was left unchanged).

        >>> import jax, jax.numpy as jnp, optax, flax.linen as nn
        >>> trainer = Trainer(nn.Dense(1), optax.sgd(0.1), lambda out, b: jnp.mean(out ** 2))
        >>> state = trainer.init(jax.random.key(0), {"x": jnp.ones((4, 2))})
        >>> state, metrics = trainer.step(state, {"x": jnp.full((4, 2), jnp.nan)})
        >>> int(metrics["skipped"]), int(state.step)
        (1, 0)
        """
        self._check_state(state)
        batch, _ = self.shard(batch)
        return self._step(state, batch)

    def evaluate(self, state: TrainState, batches: Iterable[Batch]) -> dict[str, float]:
        """Average the loss and ``loss_fn`` metrics over ``batches``, in eval mode.

        Args:
          state: a state.
          batches: an iterable of batches (or a single batch dict).

        Returns:
          A dict of floats, each the mean over examples (batches weighted by size).

        >>> import jax, jax.numpy as jnp, optax, flax.linen as nn
        >>> trainer = Trainer(nn.Dense(1), optax.sgd(0.1), lambda out, b: jnp.mean(out * 0 + 2.0))
        >>> state = trainer.init(jax.random.key(0), {"x": jnp.ones((4, 2))})
        >>> trainer.evaluate(state, [{"x": jnp.ones((4, 2))}, {"x": jnp.ones((2, 2))}])
        {'loss': 2.0}
        """
        self._check_state(state)
        if isinstance(batches, Mapping):
            batches = [batches]
        records = [
            (self._eval(state, sharded), size)
            for sharded, size in (self.shard(b, "batches") for b in batches)
        ]
        if not records:
            raise ValueError("batches must hold at least one batch, got none")
        return _weighted_means(records)

    def predict(self, state: TrainState, x: jax.Array) -> Any:
        """The model's outputs on ``x`` with the effective parameters, in eval mode (jitted).

        >>> import jax, jax.numpy as jnp, optax, flax.linen as nn
        >>> trainer = Trainer(nn.Dense(3), optax.sgd(0.1), lambda out, b: jnp.mean(out))
        >>> state = trainer.init(jax.random.key(0), {"x": jnp.ones((4, 2))})
        >>> trainer.predict(state, jnp.ones((5, 2))).shape
        (5, 3)
        """
        self._check_state(state)
        return self._predict(state, x)

    def effective_params(self, state: TrainState) -> PyTree:
        """The parameters the model sees: ``theta + theta0`` under symmetry removal, else ``params``.

        >>> import jax, jax.numpy as jnp, optax, flax.linen as nn
        >>> from symjax import symmetry
        >>> trainer = Trainer(nn.Dense(3), optax.adam(0.1), lambda out, b: jnp.mean(out ** 2),
        ...                   symmetry_removal=symmetry.Syre(1e-3, jax.random.key(1)))
        >>> state = trainer.init(jax.random.key(0), {"x": jnp.ones((4, 2))})
        >>> offset = trainer.effective_params(state)["kernel"] - state.params["kernel"]
        >>> bool(jnp.allclose(offset, state.removal.offsets["kernel"]))
        True
        """
        self._check_state(state)
        return self._effective(state.params, state.removal)

    def fit(
        self,
        state: TrainState,
        train_batches: Iterable[Batch] | Callable[[int], Iterable[Batch]],
        *,
        epochs: int,
        eval_batches: Iterable[Batch] | None = None,
        checkpoint_dir: str | None = None,
        progress: bool = True,
        epoch_metrics: Callable[[TrainState], Mapping[str, Any]] | None = None,
        max_to_keep: int = 3,
    ) -> tuple[TrainState, list[dict[str, float]]]:
        """Train for ``epochs`` more epochs; evaluate, measure and checkpoint after each.

        Args:
          state: the state to start from (fresh from :meth:`init` or restored).
          train_batches: a re-iterable collection of batches (e.g. a list), or
            a callable ``epoch -> iterable`` for per-epoch shuffling, called
            with the global epoch index ``state.epoch`` (so a resumed run sees
            the same data order).
          epochs: how many epochs to run in this call.
          eval_batches: batches for :meth:`evaluate` after every epoch
            (metrics prefixed ``eval_``).
          checkpoint_dir: if given, the state is saved there after every
            epoch (numbered by ``state.step``, the latest ``max_to_keep``
            kept); :meth:`restore` resumes from it.
          progress: show a ``rich`` progress bar (only when stdout is a terminal).
          epoch_metrics: ``fn(state) -> dict`` called after every epoch, merged
            into the history (e.g. :func:`symmetry_metrics`).
          max_to_keep: checkpoints kept in ``checkpoint_dir``.

        Returns:
          ``(state, history)``: ``history`` has one dict per epoch with
          ``epoch``, ``step``, ``time`` (seconds), the means of the step
          metrics over the epoch's finite steps (weighted by batch size),
          ``skipped`` (their number), then eval and ``epoch_metrics`` entries.

        >>> import jax, jax.numpy as jnp, optax, flax.linen as nn
        >>> trainer = Trainer(nn.Dense(1), optax.sgd(0.1), lambda out, b: jnp.mean(out ** 2))
        >>> state = trainer.init(jax.random.key(0), {"x": jnp.ones((4, 2))})
        >>> batches = [{"x": jnp.ones((4, 2))}] * 3
        >>> state, history = trainer.fit(state, batches, epochs=2, eval_batches=batches, progress=False)
        >>> [(h["epoch"], h["step"], h["skipped"]) for h in history], "eval_loss" in history[0]
        ([(1, 3, 0), (2, 6, 0)], True)
        """
        self._check_state(state)
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral):
            raise TypeError(f"epochs must be an int, got {type(epochs).__name__}")
        if epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {epochs}")
        if isinstance(train_batches, Mapping):
            raise TypeError("train_batches must be an iterable of batch dicts (e.g. a list), got a single dict")
        if not callable(train_batches) and iter(train_batches) is train_batches and epochs > 1:
            raise TypeError(
                "train_batches is a one-shot iterator but epochs > 1; pass a list or a callable "
                "epoch -> iterable of batches"
            )
        if epoch_metrics is not None and not callable(epoch_metrics):
            raise TypeError(f"epoch_metrics must be callable as fn(state), got {type(epoch_metrics).__name__}")
        show = bool(progress) and sys.stdout.isatty()
        mngr = None if checkpoint_dir is None else _checkpoint.manager(
            checkpoint_dir, max_to_keep=max_to_keep, asynchronous=True
        )
        history = []
        try:
            with _progress_bar() if show else nullcontext() as bar:
                for _ in range(epochs):
                    epoch = int(state.epoch)
                    batches = train_batches(epoch) if callable(train_batches) else train_batches
                    total = len(batches) if hasattr(batches, "__len__") else None
                    task = bar.add_task(f"epoch {epoch + 1}", total=total, loss=float("nan")) if show else None
                    start = time.perf_counter()
                    records = []
                    for batch in batches:
                        sharded, size = self.shard(batch, "train_batches")
                        state, metrics = self._step(state, sharded)
                        records.append((metrics, size))
                        if show:
                            bar.update(task, advance=1, loss=float(metrics["loss"]))
                    if not records:
                        raise ValueError(f"train_batches yielded no batch in epoch {epoch}")
                    state = state.replace(epoch=jax.device_put(state.epoch + 1, self.state_sharding))
                    row = {"epoch": epoch + 1, "step": int(state.step)}
                    row.update(_weighted_means(records))
                    row["time"] = time.perf_counter() - start
                    if eval_batches is not None:
                        row.update({f"eval_{k}": v for k, v in self.evaluate(state, eval_batches).items()})
                    if epoch_metrics is not None:
                        row.update({k: float(v) for k, v in epoch_metrics(state).items()})
                    history.append(row)
                    if mngr is not None:
                        if int(state.step) in mngr.all_steps():
                            mngr.wait_until_finished()
                        _checkpoint.write(mngr, int(state.step), state)
                    if show:
                        bar.console.print(
                            "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
                        )
        finally:
            if mngr is not None:
                mngr.wait_until_finished()
                mngr.close()
        return state, history

    def save(self, state: TrainState, directory: str) -> str:
        """Save ``state`` (Orbax) into ``directory`` as checkpoint number ``state.step``.

        Args:
          state: the state to save.
          directory: a checkpoint directory (created if needed).

        Returns:
          The absolute path of ``directory``.

        >>> import jax, jax.numpy as jnp, optax, flax.linen as nn, tempfile
        >>> trainer = Trainer(nn.Dense(1), optax.adam(0.1), lambda out, b: jnp.mean(out ** 2))
        >>> state = trainer.init(jax.random.key(0), {"x": jnp.ones((4, 2))})
        >>> path = trainer.save(state, tempfile.mkdtemp())
        >>> restored = trainer.restore(path, like=state)
        >>> bool(jnp.all(restored.params["kernel"] == state.params["kernel"]))
        True
        """
        self._check_state(state)
        return _checkpoint.save(state, directory, int(state.step))

    def restore(self, directory: str, *, like: TrainState) -> TrainState:
        """Restore the latest complete checkpoint of ``directory`` (from :meth:`save` or ``fit``).

        Args:
          directory: a :meth:`save` directory or a ``fit`` ``checkpoint_dir``.
          like: a state with the same structure (e.g. from :meth:`init`).

        Returns:
          The restored :class:`TrainState`, replicated over the mesh.

        Raises:
          FileNotFoundError: no complete checkpoint in ``directory``.
          ValueError: the checkpoint does not match ``like``.
        """
        self._check_state(like, "like")
        like = jax.device_put(like, self.state_sharding)
        return jax.device_put(_checkpoint.restore(directory, like), self.state_sharding)


def _weighted_means(records: list[tuple[dict[str, jax.Array], int]]) -> dict[str, float]:
    """Means over examples of per-batch metrics; steps flagged ``skipped`` are left out of the means."""
    values = jax.device_get([m for m, _ in records])
    sizes = np.asarray([n for _, n in records], np.float64)
    skipped = np.asarray([v.get(_SKIPPED, 0) for v in values])
    weights = sizes * (skipped == 0)
    out = {}
    for name in values[0]:
        if name == _SKIPPED:
            continue
        column = np.asarray([v[name] for v in values], np.float64)
        total = np.sum(weights)
        out[name] = float(np.sum(weights * np.where(weights > 0, column, 0.0)) / total) if total > 0 else float("nan")
    if _SKIPPED in values[0]:
        out[_SKIPPED] = int(np.sum(skipped))
    return out


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
    )


def symmetry_metrics(
    trainer: Trainer,
    *,
    ranks: Iterable[str] = (),
    neurons: Iterable[tuple[str, str]] = (),
    rtol: float = 1e-4,
    atol: float = 1e-6,
) -> Callable[[TrainState], dict[str, float]]:
    """Build an ``epoch_metrics`` callback measuring collapse in chosen layers of the effective parameters.

    Paths name parameters with ``/`` (``"Dense_0/kernel"``, NNX ``"linear1/kernel"``).
    A kernel of more than two axes is read as ``(prod(shape[:-1]), shape[-1])``.

    Args:
      trainer: the trainer whose :meth:`Trainer.effective_params` are measured.
      ranks: kernel paths; reports ``rank/<path>`` (:func:`symjax.symmetry.numerical_rank`).
      neurons: ``(w_in path, w_out path)`` pairs of consecutive layers; reports
        ``neurons/<w_in path>`` (:func:`symjax.symmetry.neuron_collapse`).
      rtol: relative tolerance of the rank.
      atol: absolute tolerance for two neurons to count as one.

    Returns:
      ``fn(state) -> dict`` of floats, for ``Trainer.fit(epoch_metrics=...)``.

    >>> import jax, jax.numpy as jnp, optax, flax.linen as nn
    >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
    >>> trainer = Trainer(model, optax.sgd(0.1), lambda out, b: jnp.mean(out ** 2))
    >>> state = trainer.init(jax.random.key(0), {"x": jnp.ones((4, 3))})
    >>> measure = symmetry_metrics(trainer, ranks=["layers_0/kernel"],
    ...                            neurons=[("layers_0/kernel", "layers_2/kernel")])
    >>> measure(state)
    {'rank/layers_0/kernel': 3.0, 'neurons/layers_0/kernel': 4.0}
    """
    ranks, neurons = list(ranks), [tuple(pair) for pair in neurons]
    if any(len(pair) != 2 for pair in neurons):
        raise ValueError(f"neurons must be (w_in path, w_out path) pairs, got {neurons}")

    def matrix(params: PyTree, path: str, argname: str) -> jax.Array:
        leaf = jnp.asarray(_leaf_at(params, path, argname))
        if leaf.ndim < 2:
            raise ValueError(f"{argname}: parameter {path!r} must have at least 2 axes, got shape {leaf.shape}")
        return leaf.reshape(-1, leaf.shape[-1])

    def measure(state: TrainState) -> dict[str, float]:
        params = trainer.effective_params(state)
        out = {}
        for path in ranks:
            out[f"rank/{path}"] = float(symmetry.numerical_rank(matrix(params, path, "ranks"), rtol))
        for w_in, w_out in neurons:
            count = symmetry.neuron_collapse(
                matrix(params, w_in, "neurons"), matrix(params, w_out, "neurons"), atol
            )
            out[f"neurons/{w_in}"] = float(count)
        return out

    return measure
