"""Measures of a network's used capacity that users compare with its parameter symmetry: stable rank, dormant units.

The other measures of this family live in :mod:`symjax.symmetry` already:
:func:`~symjax.symmetry.effective_rank` (Roy & Vetterli 2007),
:func:`~symjax.symmetry.neural_collapse` (NC1, Papyan et al. 2020), and the
distances to the symmetric states of the parameter-symmetry papers,
:func:`~symjax.symmetry.mirror_distance` (``||P theta||``) and
:func:`~symjax.symmetry.distance_to_symmetric` (``||theta - mean_g g.theta||``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from symjax.symmetry._checks import check_array, check_matrix, check_tolerance


def stable_rank(m: jax.Array) -> jax.Array:
    """Return the stable rank ``||m||_F^2 / ||m||_2^2 = sum_i s_i^2 / s_max^2`` (Rudelson & Vershynin 2007).

    A continuous lower bound of the rank, insensitive to small singular values:
    ``1`` for a rank-one matrix, ``min(rows, cols)`` for an orthogonal one.

    Args:
      m: a ``(rows, cols)`` matrix.

    Returns:
      A scalar in ``[1, min(rows, cols)]`` (``0`` for the zero matrix).

    >>> import jax.numpy as jnp
    >>> float(stable_rank(jnp.eye(4))), float(stable_rank(jnp.diag(jnp.array([2.0, 1.0]))))
    (4.0, 1.25)
    """
    m = check_matrix(m, "m")
    m = m.astype(jnp.promote_types(m.dtype, jnp.float32))
    s = jnp.linalg.svd(m, compute_uv=False)
    top = jnp.max(s, initial=0.0)
    return jnp.where(top > 0, jnp.sum(s ** 2) / jnp.where(top > 0, top, 1.0) ** 2, 0.0)


def dormant_fraction(activations: jax.Array, tau: float = 0.0) -> jax.Array:
    """Return the fraction of tau-dormant units of a layer (Sokar et al., ICML 2023, "The dormant neuron phenomenon").

    Unit ``i``'s score is ``s_i = E|a_i| / mean_j E|a_j|`` (``E``: the mean over
    examples and any spatial or group axes); it is dormant when ``s_i <= tau``.
    ``tau = 0`` counts the units that are exactly zero on every input (dead
    ReLUs); the paper uses small thresholds such as 0.025 and 0.1.

    Args:
      activations: ``(..., units)`` activations of one layer on a batch (units last,
        e.g. ``(N, units)`` or ``(N, H, W, units)``).
      tau: the threshold (>= 0).

    Returns:
      A scalar in ``[0, 1]`` (``1`` when every activation is zero).

    >>> import jax.numpy as jnp
    >>> a = jnp.array([[1.0, 0.0, 2.0, 0.01], [3.0, 0.0, 2.0, 0.01]])
    >>> float(dormant_fraction(a)), float(dormant_fraction(a, tau=0.1))
    (0.25, 0.5)
    """
    check_tolerance(tau, "tau")
    a = check_array(activations, "activations")
    if a.ndim < 1 or a.shape[-1] == 0 or a.size == 0:
        raise ValueError(f"activations must have a units axis (last) and at least one entry, got shape {a.shape}")
    a = jnp.abs(a.astype(jnp.promote_types(a.dtype, jnp.float32))).reshape(-1, a.shape[-1])
    per_unit = jnp.mean(a, axis=0)
    layer = jnp.mean(per_unit)
    score = per_unit / jnp.where(layer > 0, layer, 1.0)
    return jnp.mean(score <= tau)
