"""Measures of a run after each epoch: collapse in chosen layers (an ``epoch_metrics`` callback)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable

import jax
import jax.numpy as jnp

from symjax import symmetry
from symjax.train._step import TrainState

if TYPE_CHECKING:
    from symjax.train._trainer import Trainer

PyTree = Any

__all__ = ["symmetry_metrics"]


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
    >>> from symjax.train import Trainer
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
