"""Data parallelism: the trainer's mesh and the layout of batches over its ``"data"`` axis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding

__all__ = ["data_mesh", "shard_batch"]


def data_mesh(mesh: Mesh | None) -> Mesh:
    """``mesh``, checked to have a ``"data"`` axis; ``None``: every device on one ``"data"`` axis.

    >>> data_mesh(None).axis_names
    ('data',)
    """
    if mesh is None:
        mesh = Mesh(np.asarray(jax.devices()), ("data",))
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    if "data" not in mesh.axis_names:
        raise ValueError(f"mesh must have a 'data' axis to shard batches over, got axes {mesh.axis_names}")
    return mesh


def _check_even(size: int, devices: int, argname: str) -> None:
    if size % devices:
        raise ValueError(
            f"{argname} has batch size {size}, which does not split evenly over the {devices} "
            f"devices of the mesh's 'data' axis; use a multiple of {devices}"
        )


def shard_batch(
    batch: Any, sharding: NamedSharding, *, input_key: str, argname: str = "batch"
) -> tuple[dict[str, jax.Array], int]:
    """Validate ``batch`` and lay it out with ``sharding`` (leading axis over the ``"data"`` axis).

    Args:
      batch: a dict of arrays with a common leading example axis (on several
        hosts: this process's slice of the global batch).
      sharding: a ``NamedSharding`` over a mesh with a ``"data"`` axis.
      input_key: the entry the model is called on (must be present).
      argname: the name used in error messages.

    Returns:
      ``(sharded_batch, global_batch_size)``.

    Raises:
      TypeError: ``batch`` is not a dict.
      ValueError: ``input_key`` is missing, leading sizes differ, or the
        size does not split evenly over the devices of the ``"data"`` axis.

    >>> import jax.numpy as jnp
    >>> from jax.sharding import NamedSharding, PartitionSpec
    >>> sharding = NamedSharding(data_mesh(None), PartitionSpec("data"))
    >>> sharded, n = shard_batch({"x": jnp.ones((8, 3))}, sharding, input_key="x")
    >>> n, sharded["x"].sharding.spec
    (8, P('data',))
    """
    if not isinstance(batch, Mapping):
        raise TypeError(f"{argname} must be a dict of arrays, got {type(batch).__name__}")
    if input_key not in batch:
        raise ValueError(f"{argname} must contain the input_key {input_key!r}, got keys {sorted(map(str, batch))}")
    batch = {k: v if isinstance(v, jax.Array) else np.asarray(v) for k, v in batch.items()}
    sizes = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(batch)[0]:
        if np.ndim(leaf) == 0:
            raise ValueError(f"{argname}{jax.tree_util.keystr(path)} must have a leading example axis, got a scalar")
        sizes[jax.tree_util.keystr(path)] = leaf.shape[0]
    if len(set(sizes.values())) != 1:
        raise ValueError(f"{argname} arrays must share the leading (example) axis size, got {sizes}")
    devices = sharding.mesh.shape["data"]
    if jax.process_count() == 1:
        size = next(iter(sizes.values()))
        _check_even(size, devices, argname)
        return jax.device_put(batch, sharding), size
    batch = jax.tree.map(
        lambda leaf: leaf
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable
        else jax.make_array_from_process_local_data(sharding, np.asarray(leaf)),
        batch,
    )
    size = jax.tree.leaves(batch)[0].shape[0]
    _check_even(size, devices, argname)
    return batch, size
