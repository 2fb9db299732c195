"""The Trainer: a model adapter, the pure steps, data parallelism and the loop (fit, history, checkpoints).

The state of a run is one pytree, :class:`TrainState`; every step is a pure
function of the state and a batch (:func:`make_train_step`), so a run that is
saved, restored and continued produces bitwise the same parameters as a run
that never stopped.
"""

from __future__ import annotations

import functools
import numbers
import sys
import time
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from typing import Any, Callable

import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from symjax import xla
from symjax._prng import typed_key
from symjax.train._adapters import ModelAdapter, model_adapter
from symjax.train._checkpoint import checkpoint_manager, restore_checkpoint, save_checkpoint, write_checkpoint
from symjax.train._sharding import data_mesh, shard_batch, shard_padded
from symjax.train._step import SKIPPED, TrainState, effective, make_eval_step, make_train_step, take_rows

PyTree = Any
Batch = Mapping[str, Any]
Batches = Iterable[Batch] | Callable[[int], Iterable[Batch]]


class Trainer:
    """Train a Flax Linen or NNX model with any Optax optimizer, jitted and data-parallel.

    A batch is a dict of arrays sharing a leading example axis; the model is
    called on ``batch[input_key]`` and ``loss_fn(outputs, batch)`` returns a
    scalar loss or ``(loss, metrics_dict)``.

    The trainer is a composition: a model adapter (:func:`model_adapter`,
    ``trainer.adapter``), the pure steps (:func:`make_train_step`,
    :func:`make_eval_step`) jitted with the mesh's shardings, and the loop
    (:meth:`fit`: progress, history, checkpoints).

    Train and eval mode. Linen: the ``__call__`` keyword named by
    ``train_kwarg`` (default: recognised by its name, ``train``,
    ``training``, ``is_training``, or negated ``deterministic``,
    ``use_running_average``, ``eval``, ``is_eval``, ``inference``; see
    :class:`LinenAdapter`) is set for training in :meth:`step` and for eval
    in :meth:`evaluate`/:meth:`predict`; :meth:`init` raises ValueError for
    a model with batch statistics or dropout and no such keyword. Every
    non-``params`` collection (e.g. ``batch_stats``) is mutable during a
    step and kept in ``state.model_state``; the ``dropout`` RNG stream comes from
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
    replicated. A training batch whose size is not a multiple of the number
    of devices on that axis raises ValueError; :meth:`evaluate` and
    :meth:`predict` pad such a batch and leave the padding out. On several
    hosts, call ``jax.distributed.initialize()`` first and pass each process
    its local slice of every batch (assembled with
    ``jax.make_array_from_process_local_data``); every process calls every
    method (checkpoints are written and read collectively).

    Compilation: ``compiler_options="auto"`` compiles every step with
    ``symjax.xla.compiler_options(platform of the mesh)`` (Eigen convolutions
    on XLA:CPU, nothing elsewhere); ``None`` or ``{}`` is a plain
    ``jax.jit``; a dict is passed to ``jax.jit(compiler_options=...)`` as is.
    ``trainer.compiler_options`` holds the options in use.

    Non-finite steps: a step whose loss, gradients or updated parameters are
    not all finite leaves the state unchanged and reports ``skipped = 1`` in
    its metrics.

    Args:
      model: a ``flax.linen.Module`` or ``flax.nnx.Module`` (or a :class:`ModelAdapter`).
      optimizer: an ``optax.GradientTransformation``.
      loss_fn: ``loss_fn(outputs, batch) -> loss`` or ``(loss, metrics)``.
      input_key: the batch entry the model is called on.
      symmetry_removal: ``None`` or a :class:`symjax.symmetry.Syre` config.
      mesh: a ``jax.sharding.Mesh`` with a ``"data"`` axis.
      compiler_options: ``"auto"``, ``None`` or a dict of XLA options (see above).
      train_kwarg: a Linen model's train/eval keyword: ``None`` (recognise
        it), a name (``True`` in training, e.g. ``"training"``), a pair
        ``(name, value in training)`` (e.g. ``("deterministic", False)``) or
        ``False`` (the model takes none).

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
        model: linen.Module | nnx.Module | ModelAdapter,
        optimizer: optax.GradientTransformation,
        loss_fn: Callable[[Any, Batch], Any],
        *,
        input_key: str = "x",
        symmetry_removal: Any = None,
        mesh: Mesh | None = None,
        compiler_options: str | Mapping[str, Any] | None = "auto",
        train_kwarg: str | tuple[str, bool] | bool | None = None,
    ):
        self.adapter = model_adapter(model, train_kwarg=train_kwarg)
        train_step = make_train_step(
            self.adapter, optimizer, loss_fn, input_key=input_key, symmetry_removal=symmetry_removal
        )
        eval_step = make_eval_step(self.adapter, loss_fn, input_key=input_key)
        self.mesh = data_mesh(mesh)
        self.compiler_options = _resolve_compiler_options(compiler_options, self.mesh)
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.input_key = input_key
        self.symmetry_removal = symmetry_removal
        self.batch_sharding = NamedSharding(self.mesh, PartitionSpec("data"))
        self.state_sharding = NamedSharding(self.mesh, PartitionSpec())

        replicated, data = self.state_sharding, self.batch_sharding
        jit = functools.partial(jax.jit, compiler_options=self.compiler_options or None)
        self._step = jit(train_step, in_shardings=(replicated, data), out_shardings=replicated)
        self._eval = jit(eval_step, in_shardings=(replicated, data), out_shardings=replicated)
        self._eval_padded = jit(eval_step, in_shardings=(replicated, data, replicated), out_shardings=replicated)
        self._predict = jit(self._predict_fn, in_shardings=(replicated, data, replicated), out_shardings=replicated)
        self._init_model = jit(self.adapter.init) if self.adapter.compile_init else self.adapter.init
        self._new_state = jax.jit(self._new_state_fn, out_shardings=replicated)

    def _predict_fn(self, state: TrainState, batch: Batch, index: jax.Array | None) -> Any:
        params = effective(state.params, state.removal)
        outputs = self.adapter.apply(params, state.model_state, batch[self.input_key], None, train=False)[0]
        return outputs if index is None else take_rows(outputs, index)

    def _new_state_fn(self, key: jax.Array, params: PyTree, model_state: PyTree) -> TrainState:
        removal = None if self.symmetry_removal is None else self.symmetry_removal.init(params)
        return TrainState(
            step=jnp.zeros((), jnp.int32),
            epoch=jnp.zeros((), jnp.int32),
            params=params,
            opt_state=self.optimizer.init(params),
            model_state=model_state,
            rng=jax.random.split(key, 3)[0],
            removal=removal,
        )

    @staticmethod
    def _check_state(state: Any, argname: str = "state") -> None:
        if not isinstance(state, TrainState):
            raise TypeError(f"{argname} must be a TrainState (from Trainer.init), got {type(state).__name__}")

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
        return shard_batch(batch, self.batch_sharding, input_key=self.input_key, argname=argname)

    def init(self, key: jax.Array, example_batch: Batch) -> TrainState:
        """Create the initial :class:`TrainState`.

        Linen models are initialised from ``key`` on ``example_batch[input_key]``
        (in eval mode); NNX models keep the parameters they were built with.
        The state is built by one jitted function whose outputs are
        replicated over the mesh, so it also spans the devices of several
        processes.
        ``state.rng`` is the first key of ``jax.random.split(key, 3)`` (a Linen
        model draws its ``params`` and ``dropout`` keys from the other two).
        The optimizer and the symmetry removal are initialised on the parameters.

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
        key = typed_key(key)
        batch, _ = self.shard(example_batch, "example_batch")
        params, model_state = self._init_model(key, batch[self.input_key])
        return self._new_state(key, params, model_state)

    def step(self, state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        """Take one optimizer step on ``batch`` (jitted, data-parallel): :func:`make_train_step`.

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

        A batch of any size is taken: one that does not split over the
        devices of the ``"data"`` axis is padded with copies of its last
        example, and ``loss_fn`` sees only the real rows of the outputs and
        of the batch (exactly the metrics of the unpadded batch). On several
        processes, every process gets the same global metrics.

        Args:
          state: a state.
          batches: an iterable of batches (or a single batch dict).

        Returns:
          A dict of floats, each the mean over examples (batches weighted by size).

        Raises:
          ValueError: no batch, or a batch of size 0.

        >>> import jax, jax.numpy as jnp, optax, flax.linen as nn
        >>> trainer = Trainer(nn.Dense(1), optax.sgd(0.1), lambda out, b: jnp.mean(out * 0 + 2.0))
        >>> state = trainer.init(jax.random.key(0), {"x": jnp.ones((4, 2))})
        >>> trainer.evaluate(state, [{"x": jnp.ones((4, 2))}, {"x": jnp.ones((2, 2))}])
        {'loss': 2.0}
        """
        self._check_state(state)
        if isinstance(batches, Mapping):
            batches = [batches]
        records = []
        for batch in batches:
            sharded, sizes, index = shard_padded(batch, self.batch_sharding, input_key=self.input_key,
                                                 argname="batches")
            size = jax.tree.leaves(sharded)[0].shape[0] if sizes is None else sum(sizes)
            metrics = self._eval(state, sharded) if index is None else self._eval_padded(state, sharded, index)
            records.append((metrics, size))
        if not records:
            raise ValueError("batches must hold at least one batch, got none")
        return _weighted_means(records)

    def predict(self, state: TrainState, x: Any) -> Any:
        """The model's outputs on ``x`` with the effective parameters, in eval mode (jitted, data-parallel).

        ``x`` is split over the devices of the ``"data"`` axis (padded when
        its size does not split). On several processes, each passes its own
        examples and gets their outputs (a global ``jax.Array`` ``x``: all
        outputs); every process must call it.

        Args:
          state: a state.
          x: inputs with a leading example axis (size > 0), like ``batch[input_key]``.

        Returns:
          The outputs, leading axis the examples of ``x``.

        Raises:
          ValueError: ``x`` holds no example.

        >>> import jax, jax.numpy as jnp, optax, flax.linen as nn
        >>> trainer = Trainer(nn.Dense(3), optax.sgd(0.1), lambda out, b: jnp.mean(out))
        >>> state = trainer.init(jax.random.key(0), {"x": jnp.ones((4, 2))})
        >>> trainer.predict(state, jnp.ones((5, 2))).shape
        (5, 3)
        """
        self._check_state(state)
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(x)):
            return self._predict_fn(state, {self.input_key: x}, None)
        batch, sizes, index = shard_padded({self.input_key: x}, self.batch_sharding, input_key=self.input_key,
                                           argname="x")
        outputs = self._predict(state, batch, index)
        if jax.process_count() == 1 or sizes is None:
            return outputs
        start = sum(sizes[: jax.process_index()])
        return jax.tree.map(lambda leaf: leaf.addressable_data(0)[start:start + sizes[jax.process_index()]], outputs)

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
        return effective(state.params, state.removal)

    def fit(
        self,
        state: TrainState,
        train_batches: Batches,
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
        _check_fit_args(train_batches, epochs, epoch_metrics)
        history = []
        with ExitStack() as stack:
            checkpoints = None if checkpoint_dir is None else stack.enter_context(
                checkpoint_manager(checkpoint_dir, max_to_keep=max_to_keep, asynchronous=True)
            )
            bar = stack.enter_context(_progress_bar()) if progress and sys.stdout.isatty() else None
            for _ in range(epochs):
                start = time.perf_counter()
                state, records = self._run_epoch(state, train_batches, bar)
                row = self._history_row(state, records, start, eval_batches, epoch_metrics)
                history.append(row)
                if checkpoints is not None:
                    write_checkpoint(checkpoints, int(state.step), state)
                if bar is not None:
                    bar.console.print(_format_row(row))
        return state, history

    def _run_epoch(
        self, state: TrainState, train_batches: Batches, bar: Any
    ) -> tuple[TrainState, list[tuple[dict[str, jax.Array], int]]]:
        """One pass over the epoch's batches: the state after it and ``(metrics, batch size)`` per step."""
        epoch = int(state.epoch)
        batches = train_batches(epoch) if callable(train_batches) else train_batches
        if bar is not None:
            total = len(batches) if hasattr(batches, "__len__") else None
            task = bar.add_task(f"epoch {epoch + 1}", total=total, loss=float("nan"))
        records = []
        for batch in batches:
            sharded, size = self.shard(batch, "train_batches")
            state, metrics = self._step(state, sharded)
            records.append((metrics, size))
            if bar is not None:
                bar.update(task, advance=1, loss=float(metrics["loss"]))
        if not records:
            raise ValueError(f"train_batches yielded no batch in epoch {epoch}")
        return state.replace(epoch=jax.device_put(state.epoch + 1, self.state_sharding)), records

    def _history_row(
        self,
        state: TrainState,
        records: list[tuple[dict[str, jax.Array], int]],
        start: float,
        eval_batches: Iterable[Batch] | None,
        epoch_metrics: Callable[[TrainState], Mapping[str, Any]] | None,
    ) -> dict[str, float]:
        """The history entry of the epoch that ended in ``state`` and started at ``start`` (``perf_counter``)."""
        row = {"epoch": int(state.epoch), "step": int(state.step)}
        row.update(_weighted_means(records))
        row["time"] = time.perf_counter() - start
        if eval_batches is not None:
            row.update({f"eval_{k}": v for k, v in self.evaluate(state, eval_batches).items()})
        if epoch_metrics is not None:
            row.update({k: float(v) for k, v in epoch_metrics(state).items()})
        return row

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
        return save_checkpoint(state, directory, int(state.step))

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
        return jax.device_put(restore_checkpoint(directory, like), self.state_sharding)


def _resolve_compiler_options(options: Any, mesh: Mesh) -> dict[str, Any]:
    """The XLA options of every jitted step: ``"auto"`` -> :func:`symjax.xla.compiler_options` of the mesh."""
    if isinstance(options, str):
        if options != "auto":
            raise ValueError(f"compiler_options must be 'auto', None or a dict of XLA options, got {options!r}")
        return xla.compiler_options(mesh.devices.flat[0].platform)
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(
            f"compiler_options must be 'auto', None or a dict of XLA options, got {type(options).__name__}"
        )
    return dict(options)


def _check_fit_args(train_batches: Any, epochs: Any, epoch_metrics: Any) -> None:
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


def _weighted_means(records: list[tuple[dict[str, jax.Array], int]]) -> dict[str, float]:
    """Means over examples of per-batch metrics; steps flagged ``skipped`` are left out of the means."""
    values = jax.device_get([m for m, _ in records])
    sizes = np.asarray([n for _, n in records], np.float64)
    skipped = np.asarray([v.get(SKIPPED, 0) for v in values])
    weights = sizes * (skipped == 0)
    out = {}
    for name in values[0]:
        if name == SKIPPED:
            continue
        column = np.asarray([v[name] for v in values], np.float64)
        total = np.sum(weights)
        out[name] = float(np.sum(weights * np.where(weights > 0, column, 0.0)) / total) if total > 0 else float("nan")
    if SKIPPED in values[0]:
        out[SKIPPED] = int(np.sum(skipped))
    return out


def _format_row(row: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
    )
