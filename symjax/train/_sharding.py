"""Data parallelism: the trainer's mesh and the layout of batches over its ``"data"`` axis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding

__all__ = ["data_mesh", "shard_batch", "shard_padded"]


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
            f"devices of the mesh's 'data' axis; use a multiple of {devices} (evaluate and predict "
            "take any size)"
        )


def _checked(batch: Any, input_key: str, argname: str) -> tuple[dict[str, Any], int]:
    """``batch`` as a dict of arrays, checked (a dict, ``input_key`` present, one leading size > 0), and that size."""
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
    size = next(iter(sizes.values()))
    if size == 0:
        raise ValueError(f"{argname} must hold at least one example, got batch size 0 (leading axis sizes {sizes})")
    return batch, size


def _is_global(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and not leaf.is_fully_addressable


def shard_batch(
    batch: Any, sharding: NamedSharding, *, input_key: str, argname: str = "batch"
) -> tuple[dict[str, jax.Array], int]:
    """Validate ``batch`` and lay it out with ``sharding`` (leading axis over the ``"data"`` axis).

    Args:
      batch: a dict of arrays with a common leading example axis (on several
        hosts: this process's slice of the global batch, the same size on every process).
      sharding: a ``NamedSharding`` over a mesh with a ``"data"`` axis.
      input_key: the entry the model is called on (must be present).
      argname: the name used in error messages.

    Returns:
      ``(sharded_batch, global_batch_size)``.

    Raises:
      TypeError: ``batch`` is not a dict.
      ValueError: ``input_key`` is missing, leading sizes differ or are 0, or the
        size does not split evenly over the devices of the ``"data"`` axis.

    >>> import jax.numpy as jnp
    >>> from jax.sharding import NamedSharding, PartitionSpec
    >>> sharding = NamedSharding(data_mesh(None), PartitionSpec("data"))
    >>> sharded, n = shard_batch({"x": jnp.ones((8, 3))}, sharding, input_key="x")
    >>> n, sharded["x"].sharding.spec
    (8, P('data',))
    """
    batch, size = _checked(batch, input_key, argname)
    devices = sharding.mesh.shape["data"]
    if jax.process_count() == 1:
        _check_even(size, devices, argname)
        return jax.device_put(batch, sharding), size
    batch = jax.tree.map(
        lambda leaf: leaf if _is_global(leaf) else jax.make_array_from_process_local_data(sharding, np.asarray(leaf)),
        batch,
    )
    size = jax.tree.leaves(batch)[0].shape[0]
    _check_even(size, devices, argname)
    return batch, size


def _process_rows(sharding: NamedSharding, rows: int) -> list[np.ndarray]:
    """For each process, the global rows its local data fills (ascending), in a batch of ``rows`` rows."""
    starts: list[dict[int, slice]] = [{} for _ in range(jax.process_count())]
    for device, index in sharding.devices_indices_map((rows,)).items():
        block = index[0]
        starts[device.process_index][block.start or 0] = block
    return [
        np.concatenate([np.arange(*blocks[k].indices(rows)) for k in sorted(blocks)]) for blocks in starts
    ]


def _pad_rows(leaf: Any, rows: int) -> np.ndarray:
    """``leaf`` with copies of its last example appended up to ``rows`` examples (real inputs: no NaN in padding)."""
    leaf = np.asarray(leaf)
    return np.concatenate([leaf, np.repeat(leaf[-1:], rows - leaf.shape[0], axis=0)])


def shard_padded(
    batch: Any, sharding: NamedSharding, *, input_key: str, argname: str = "batch"
) -> tuple[dict[str, jax.Array], tuple[int, ...] | None, np.ndarray | None]:
    """Like :func:`shard_batch` for any batch size: pad to a multiple of the devices and say which rows are real.

    Each process's slice is padded with copies of its last example (real
    inputs, so the model computes nothing non-finite there) to the same
    multiple of its devices on the ``"data"`` axis; on several hosts the
    local sizes are exchanged (``process_allgather``) and may differ. The
    ``"data"`` axis must span the processes (as the default mesh does).

    Args:
      batch: a dict of arrays with a common leading example axis (on several
        hosts: this process's slice of the global batch, of any size > 0).
      sharding: a ``NamedSharding`` over a mesh with a ``"data"`` axis.
      input_key: the entry the model is called on (must be present).
      argname: the name used in error messages.

    Returns:
      ``(sharded_batch, sizes, index)``: ``sizes`` holds the number of real
      examples of each process (``None`` when ``batch`` holds global arrays,
      which are taken as they are); ``index`` is ``None`` when no row was
      padded, else the int32 positions ``(sum(sizes),)`` of the real examples
      in the padded global batch, process by process.

    >>> import jax.numpy as jnp
    >>> from jax.sharding import NamedSharding, PartitionSpec
    >>> sharding = NamedSharding(data_mesh(None), PartitionSpec("data"))
    >>> devices = sharding.mesh.shape["data"]
    >>> sharded, sizes, index = shard_padded({"x": jnp.ones((5, 3))}, sharding, input_key="x")
    >>> sizes, sharded["x"].shape[0] % devices, index is None or index.tolist() == [0, 1, 2, 3, 4]
    ((5,), 0, True)
    """
    batch, size = _checked(batch, input_key, argname)
    if any(_is_global(leaf) for leaf in jax.tree.leaves(batch)):
        return shard_batch(batch, sharding, input_key=input_key, argname=argname)[0], None, None
    sizes = (size,)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        sizes = tuple(int(n) for n in np.ravel(multihost_utils.process_allgather(np.int64(size))))
    devices = sharding.mesh.shape["data"]
    local_blocks = len(
        {index[0].start for device, index in sharding.devices_indices_map((devices,)).items()
         if device.process_index == jax.process_index()}
    )
    rows = -(-max(sizes) // local_blocks) * local_blocks
    if all(n == rows for n in sizes):
        return shard_batch(batch, sharding, input_key=input_key, argname=argname)[0], sizes, None
    padded = jax.tree.map(lambda leaf: _pad_rows(leaf, rows), batch)
    if jax.process_count() == 1:
        sharded = jax.device_put(padded, sharding)
    else:
        sharded = jax.tree.map(lambda leaf: jax.make_array_from_process_local_data(sharding, leaf), padded)
    placed = _process_rows(sharding, rows * devices // local_blocks)
    index = np.concatenate([placed[p][:n] for p, n in enumerate(sizes)]).astype(np.int32)
    return sharded, sizes, index
