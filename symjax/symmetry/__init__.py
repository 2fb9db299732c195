"""Symmetry removal (syre) and measures of symmetry.

Parameter symmetries (permutations of neurons, rescalings, rotations) make
weight decay pull training toward symmetric states: identical neurons, sparse
or low-rank weights. :func:`remove_symmetry` draws a fixed random offset
``theta0`` per parameter; training ``theta`` on
``loss(theta + theta0) + penalty(theta)`` removes those symmetries
(Ziyin et al., *Remove Symmetries to Control Model Expressivity*, ICLR 2025).
The same method as an Optax transformation is :func:`symjax.optim.syre`.

The measures quantify symmetry: equivariance of a function
(:func:`equivariance_error`, :func:`check_equivariance`) and symmetric
structure of weights (ranks, sparsity, collapsed neurons, neural collapse,
distances to mirror- and group-symmetric states).

>>> import jax, jax.numpy as jnp
>>> from symjax import symmetry
>>> params = {"w": jnp.ones((3, 2))}
>>> removal = symmetry.remove_symmetry(jax.random.key(0), params)
>>> loss = lambda theta: jnp.sum(removal.apply(theta)["w"] ** 2) + removal.penalty(theta, 1e-4)
>>> jax.grad(loss)(params)["w"].shape
(3, 2)
"""

from symjax.symmetry._breaking import (
    equivariance_metric,
    layer_equivariance_errors,
    layer_lie_derivatives,
    layer_outputs,
    lie_derivative,
    rotation_tangent,
)
from symjax.symmetry._capacity import dormant_fraction, stable_rank
from symjax.symmetry._measures import (
    EquivarianceError,
    check_equivariance,
    distance_to_symmetric,
    effective_rank,
    equivariance_error,
    low_rankness,
    mirror_distance,
    neural_collapse,
    neuron_collapse,
    neuron_distance,
    numerical_rank,
    sparsity,
)
from symjax.symmetry._offgrid import (
    OffGridErrors,
    check_offgrid_equivariance,
    gaussian_blobs,
    offgrid_equivariance,
)
from symjax.symmetry._removal import Syre, SymmetryRemoval, remove_symmetry

__all__ = [
    "EquivarianceError",
    "OffGridErrors",
    "Syre",
    "SymmetryRemoval",
    "check_equivariance",
    "check_offgrid_equivariance",
    "distance_to_symmetric",
    "effective_rank",
    "equivariance_error",
    "gaussian_blobs",
    "low_rankness",
    "mirror_distance",
    "neural_collapse",
    "neuron_collapse",
    "neuron_distance",
    "numerical_rank",
    "offgrid_equivariance",
    "remove_symmetry",
    "sparsity",
    "dormant_fraction",
    "equivariance_metric",
    "layer_equivariance_errors",
    "layer_lie_derivatives",
    "layer_outputs",
    "lie_derivative",
    "rotation_tangent",
    "stable_rank",
]
