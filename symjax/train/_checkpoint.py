"""Orbax checkpoints of arbitrary pytrees (train states), with exact round trips.

A checkpoint directory holds numbered checkpoints (``<dir>/<number>/``)
written by an :class:`orbax.checkpoint.CheckpointManager`. Orbax writes each
checkpoint into a temporary directory and renames it only once it is complete,
so an interrupted save never becomes the latest checkpoint.

The tree is stored as a flat list of arrays plus a JSON record of each leaf's
path, shape and dtype; restoring rebuilds the structure of a ``like`` tree, so
any pytree (Flax structs, optax NamedTuples, NNX ``State``, ``None`` leaves)
round-trips. Typed PRNG keys are stored as their key data and re-wrapped with
the implementation of the matching ``like`` leaf.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from symjax._prng import is_typed_key

PyTree = Any

_ARRAYS = "arrays"
_META = "meta"
_FORMAT = "symjax.train/1"


def _absolute(directory: str | os.PathLike, argname: str = "directory") -> str:
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"{argname} must be a path (str or os.PathLike), got {type(directory).__name__}")
    return os.path.abspath(os.fspath(directory))


def _flatten(tree: PyTree) -> tuple[dict[str, Any], dict[str, Any]]:
    path_leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    arrays, leaves_meta = {}, []
    for i, (path, leaf) in enumerate(path_leaves):
        if is_typed_key(leaf):
            leaf = jax.random.key_data(leaf)
        if not isinstance(leaf, (jax.Array, np.ndarray)):
            leaf = np.asarray(leaf)
        arrays[f"{i:06d}"] = leaf
        leaves_meta.append(
            {"path": jax.tree_util.keystr(path), "shape": list(leaf.shape), "dtype": str(leaf.dtype)}
        )
    return arrays, {"format": _FORMAT, "leaves": leaves_meta}


def checkpoint_manager(
    directory: str | os.PathLike, *, max_to_keep: int | None = None, asynchronous: bool = False
) -> ocp.CheckpointManager:
    """Open (creating it if needed) a checkpoint directory.

    Args:
      directory: the checkpoint directory.
      max_to_keep: keep only this many most recent checkpoints (``None``: all).
      asynchronous: write in the background (call ``wait_until_finished``).

    Returns:
      An :class:`orbax.checkpoint.CheckpointManager`.
    """
    options = ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, create=True, enable_async_checkpointing=asynchronous
    )
    return ocp.CheckpointManager(_absolute(directory), options=options, item_names=(_ARRAYS, _META))


def write_checkpoint(mngr: ocp.CheckpointManager, number: int, tree: PyTree) -> None:
    """Write ``tree`` as checkpoint ``number``, replacing an existing one of that number.

    An existing checkpoint of that number (e.g. still being written in the
    background) is waited for, then deleted.

    Args:
      mngr: a manager from :func:`checkpoint_manager`.
      number: the checkpoint number (the train step).
      tree: any pytree of arrays.
    """
    arrays, meta = _flatten(tree)
    if number in mngr.all_steps():
        mngr.wait_until_finished()
        mngr.delete(number)
    mngr.save(
        number,
        args=ocp.args.Composite(
            **{_ARRAYS: ocp.args.StandardSave(arrays), _META: ocp.args.JsonSave(meta)}
        ),
        force=True,
    )


def save_checkpoint(tree: PyTree, directory: str | os.PathLike, number: int) -> str:
    """Save ``tree`` as checkpoint ``number`` in ``directory`` and wait until it is written.

    Args:
      tree: any pytree of arrays.
      directory: the checkpoint directory (created if needed; other checkpoints kept).
      number: the checkpoint number.

    Returns:
      The absolute checkpoint directory.

    >>> import tempfile, jax.numpy as jnp
    >>> d = tempfile.mkdtemp()
    >>> _ = save_checkpoint({"w": jnp.arange(3.0)}, d, 7)
    >>> restore_checkpoint(d, like={"w": jnp.zeros(3)})["w"].tolist()
    [0.0, 1.0, 2.0]
    """
    with checkpoint_manager(directory) as mngr:
        write_checkpoint(mngr, number, tree)
        mngr.wait_until_finished()
    return _absolute(directory)


def latest_checkpoint(directory: str | os.PathLike) -> int | None:
    """Return the number of the latest complete checkpoint in ``directory``, or ``None``.

    >>> import tempfile
    >>> latest_checkpoint(tempfile.mkdtemp()) is None
    True
    """
    path = _absolute(directory)
    if not os.path.isdir(path):
        return None
    options = ocp.CheckpointManagerOptions(create=False)
    with ocp.CheckpointManager(path, options=options, item_names=(_ARRAYS, _META)) as mngr:
        return mngr.latest_step()


def _abstract(leaf: Any) -> jax.ShapeDtypeStruct:
    if is_typed_key(leaf):
        data = jax.random.key_data(leaf)
        return jax.ShapeDtypeStruct(data.shape, data.dtype, sharding=leaf.sharding)
    if isinstance(leaf, jax.Array):
        return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=leaf.sharding)
    leaf = np.asarray(leaf)
    return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype)


def restore_checkpoint(directory: str | os.PathLike, like: PyTree, number: int | None = None) -> PyTree:
    """Restore a checkpoint of ``directory`` into the structure, dtypes and shardings of ``like``.

    Args:
      directory: a checkpoint directory written by :func:`save_checkpoint` or :func:`write_checkpoint`.
      like: a pytree with the structure of the saved one (its values are ignored).
      number: which checkpoint; the latest complete one by default.

    Returns:
      A pytree like ``like`` holding the saved values.

    Raises:
      FileNotFoundError: ``directory`` holds no complete checkpoint.
      ValueError: the checkpoint's leaves do not match ``like``.

    >>> import tempfile, jax.numpy as jnp
    >>> d = tempfile.mkdtemp()
    >>> _ = save_checkpoint((jnp.ones(2), None), d, 1)
    >>> restore_checkpoint(d, like=(jnp.zeros(2), None))
    (Array([1., 1.], dtype=float32), None)
    """
    path = _absolute(directory)
    if number is None:
        number = latest_checkpoint(path)
        if number is None:
            raise FileNotFoundError(f"directory {path!r} holds no complete checkpoint")
    path_leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    expected = _flatten(like)[1]["leaves"]
    options = ocp.CheckpointManagerOptions(create=False)
    with ocp.CheckpointManager(path, options=options, item_names=(_ARRAYS, _META)) as mngr:
        if number not in mngr.all_steps():
            raise FileNotFoundError(
                f"directory {path!r} holds no checkpoint number {number}; it has {sorted(mngr.all_steps())}"
            )
        meta = mngr.restore(number, args=ocp.args.Composite(**{_META: ocp.args.JsonRestore()}))[_META]
        saved = meta["leaves"]
        if meta.get("format") != _FORMAT or saved != expected:
            mismatch = next(
                (f"saved {s} vs like {e}" for s, e in zip(saved, expected) if s != e),
                f"saved {len(saved)} leaves vs like {len(expected)}",
            )
            raise ValueError(
                f"like must have the structure of the checkpoint in {path!r} (number {number}); "
                f"first difference: {mismatch}"
            )
        target = {f"{i:06d}": _abstract(leaf) for i, (_, leaf) in enumerate(path_leaves)}
        arrays = mngr.restore(
            number, args=ocp.args.Composite(**{_ARRAYS: ocp.args.StandardRestore(target)})
        )[_ARRAYS]
    leaves = []
    for i, (_, leaf) in enumerate(path_leaves):
        value = arrays[f"{i:06d}"]
        if is_typed_key(leaf):
            value = jax.random.wrap_key_data(value, impl=jax.random.key_impl(leaf))
        leaves.append(value)
    return treedef.unflatten(leaves)
