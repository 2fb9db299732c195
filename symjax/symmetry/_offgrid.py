"""Equivariance off the pixel grid: rotations by any angle of ``G``, measured on analytic inputs.

:func:`equivariance_error` transforms its input with ``act_in``; for a rotation
by 45 or 22.5 degrees that is a bilinear resampling, whose own error hides the
network's. Here the input is a smooth analytic image (a sum of anisotropic
Gaussian blobs, :func:`gaussian_blobs`) evaluated exactly at the transformed
positions ``M_g^-1 p`` of every pixel ``p``, so the transformed input has no
interpolation error. The rotations (and reflections) that map the pixel grid to
itself move the samples exactly, so a grid-exact network stays exact on them.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from symjax.geometry import disc_mask
from symjax.symmetry._callables import as_function, explained_trace_errors
from symjax.symmetry._checks import check_group, check_tolerance
from symjax.symmetry._measures import EquivarianceError

__all__ = ["OffGridErrors", "check_offgrid_equivariance", "gaussian_blobs", "offgrid_equivariance"]

# Blob centres lie within this fraction of the inscribed radius R; the image is multiplied by the radial
# window exp(-(r / (WINDOW R))^8), about 3e-8 at r = R, so nothing leaves the frame under rotation.
SPREAD, WINDOW = 0.5, 0.7
_NORMS = ("max", "l2")


def _matrix(matrix) -> np.ndarray:
    m = np.eye(2) if matrix is None else np.asarray(matrix, np.float64)
    if m.shape != (2, 2) or abs(np.linalg.det(m)) < 1e-12:
        raise ValueError(f"matrix must be an invertible 2x2 matrix (or None), got {np.asarray(matrix).tolist()}")
    return m


def gaussian_blobs(size: int, *, batch: int = 2, channels: int = 1, blobs: int = 6,
                   sigma: tuple[float, float] = (1.5, 3.0), seed: int = 0, matrix=None) -> np.ndarray:
    """Smooth analytic test images, evaluated exactly at ``matrix^-1 p`` for every pixel ``p``.

    Each image channel is a sum of ``blobs`` anisotropic Gaussians (random
    centres within half the inscribed radius, standard deviations along their
    two axes drawn from ``sigma`` in pixels, random orientations and signed
    amplitudes), times a radial window that vanishes (below 1e-7) outside the
    inscribed disc. Coordinates are those of :func:`symjax.actions.on_image`
    (origin at the centre, x to the right, y up), so for a matrix that maps the
    grid to itself the result is ``on_image`` of the untransformed images, bit
    for bit, and for any other it is the exact rotated image.

    Args:
      size: height and width ``H = W``.
      batch, channels: number of images and channels; every one draws its own blobs.
      blobs: blobs per channel.
      sigma: ``(low, high)`` range of the blobs' standard deviations, in pixels.
      seed: the blobs (same seed, same blobs for every ``matrix``).
      matrix: ``(2, 2)`` transformation ``M`` (e.g. ``G.matrices[g]``); ``None``: the identity.

    Returns:
      ``(batch, size, size, channels)`` float32: ``out(p) = image(M^-1 p)``.

    >>> import numpy as np
    >>> from symjax import actions, groups
    >>> x = gaussian_blobs(9)
    >>> x.shape
    (2, 9, 9, 1)
    >>> C4 = groups.cyclic(4)
    >>> bool((gaussian_blobs(9, matrix=C4.matrices[1]) == np.asarray(actions.on_image(C4, 1, x))).all())
    True
    """
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    for name, value in (("batch", batch), ("channels", channels), ("blobs", blobs)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    low, high = sigma
    if not 0 < low <= high:
        raise ValueError(f"sigma must be a range (low, high) with 0 < low <= high, got {sigma!r}")
    m = _matrix(matrix)
    rng = np.random.default_rng(seed)
    shape = (batch, channels, blobs)
    radius = (size - 1) / 2.0
    r = SPREAD * radius * np.sqrt(rng.uniform(size=shape))
    phi = rng.uniform(0, 2 * np.pi, shape)
    centres = np.stack([r * np.cos(phi), r * np.sin(phi)], -1)
    scales = rng.uniform(low, high, shape + (2,))
    theta = rng.uniform(0, np.pi, shape)
    amplitude = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 1.0, shape)
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    p = np.stack([cols - radius, radius - rows], -1).reshape(-1, 2)
    q = p @ np.linalg.inv(m).T  # the source position of every pixel
    d = q[None, None, None] - centres[..., None, :]  # (batch, channels, blobs, P, 2)
    u = np.stack([np.cos(theta), np.sin(theta)], -1)[..., None, :]  # the blobs' first axes
    v = np.stack([-np.sin(theta), np.cos(theta)], -1)[..., None, :]
    a = np.sum(d * u, -1) / scales[..., 0, None]
    b = np.sum(d * v, -1) / scales[..., 1, None]
    image = np.sum(amplitude[..., None] * np.exp(-0.5 * (a ** 2 + b ** 2)), axis=2)
    window = np.exp(-(np.sqrt(np.sum(q ** 2, -1)) / max(WINDOW * radius, 1e-12)) ** 8)
    image = (image * window).reshape(batch, channels, size, size)
    return np.ascontiguousarray(image.transpose(0, 2, 3, 1)).astype(np.float32)


class OffGridErrors(NamedTuple):
    """Per-element relative errors of :func:`offgrid_equivariance`, with each element's rotation angle.

    Attributes:
      errors: ``(|G|,)`` relative error per element.
      angles: ``(|G|,)`` rotation angle in degrees, in ``[0, 360)``; a reflection
        ``M = R(angle) @ diag(-1, 1)`` (the width flip, then the rotation) has the angle of its rotation.
      reflections: ``(|G|,)`` bool, the elements with ``det M < 0``.
      on_grid: ``(|G|,)`` bool, the elements that map the pixel grid to itself
        (multiples of 90 degrees and the axis and diagonal flips): exact for a grid-exact network.

    >>> import numpy as np
    >>> r = OffGridErrors(errors=np.array([0.0, 2e-3, 1e-7, 4e-3]), angles=np.array([0.0, 45.0, 90.0, 135.0]),
    ...                   reflections=np.zeros(4, bool), on_grid=np.array([True, False, True, False]))
    >>> round(r.offgrid_mean(), 6), r.ongrid_max()
    (0.003, 1e-07)
    """

    errors: np.ndarray
    angles: np.ndarray
    reflections: np.ndarray
    on_grid: np.ndarray

    def offgrid_mean(self) -> float:
        """Mean error over the elements off the grid (``nan`` when every element is on it)."""
        off = self.errors[~self.on_grid]
        return float(off.mean()) if off.size else float("nan")

    def ongrid_max(self) -> float:
        """Largest error over the elements on the grid (the identity at least)."""
        return float(self.errors[self.on_grid].max())

    def report(self, tol: float | None = None, offgrid_tol: float | None = None) -> str:
        """One line per element: angle, reflection, on/off grid, error, marked when above its tolerance."""
        lines = ["  element |   angle | flip | grid | relative error"]
        for g, (err, angle, flip, grid) in enumerate(zip(self.errors.tolist(), self.angles.tolist(),
                                                          self.reflections.tolist(), self.on_grid.tolist())):
            limit = tol if grid else offgrid_tol
            mark = "  <- above tol" if limit is not None and err > limit else ""
            lines.append(f"  {g:>7} | {angle:>7.2f} | {'yes' if flip else 'no':>4} | {'on' if grid else 'off':>4} | "
                         f"{err:.3e}{mark}")
        return "\n".join(lines)


def _planar(G: Any) -> np.ndarray:
    order = check_group(G)
    matrices = getattr(G, "matrices", None)
    if matrices is None or np.shape(matrices) != (order, 2, 2):
        raise ValueError(f"G must act on the plane (matrices of shape ({order}, 2, 2)), got "
                         f"{None if matrices is None else np.shape(matrices)}")
    return np.asarray(matrices, np.float64)


def _angles(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    reflections = np.linalg.det(matrices) < 0
    rotations = np.where(reflections[:, None, None], matrices @ np.diag([-1.0, 1.0]), matrices)
    angles = np.round(np.degrees(np.arctan2(rotations[:, 1, 0], rotations[:, 0, 0])), 9) % 360.0
    on_grid = np.all(np.abs(matrices - np.round(matrices)) < 1e-9, axis=(1, 2))
    return angles, reflections, on_grid


def offgrid_equivariance(
    f: Callable,
    G: Any,
    *,
    size: int = 33,
    act_out: Callable | None = None,
    mask: jax.Array | None = None,
    norm: str = "l2",
    batch: int = 2,
    channels: int = 1,
    blobs: int = 6,
    sigma: tuple[float, float] = (1.5, 3.0),
    seed: int = 0,
) -> OffGridErrors:
    """Relative equivariance error of ``f`` for every element of a planar group, on exactly transformed inputs.

    For each element ``g`` (matrix ``M_g``), ``f`` is applied to
    :func:`gaussian_blobs` evaluated at ``M_g^-1 p`` (no interpolation of the
    input) and compared with ``act_out(G, g, f(x))``, or with ``f(x)`` itself
    for invariance (``act_out=None``, e.g. a network ending in group pooling
    and a spatial mean). The error is ``||f(T_g x) - T'_g f(x)|| / ||f(x)||``
    over the entries where ``mask`` is non-zero. All ``|G| + 1`` inputs go
    through ``f`` as one batch, so ``f`` must treat examples independently
    (measure a model in eval mode). Runs at ``"highest"`` matmul precision.

    With ``act_out`` (equivariance of feature maps), an off-grid element moves
    the output by ``act_out``, e.g. the bilinear resampling of
    :func:`symjax.actions.on_group_image`: the error then includes that
    resampling's error of the output, which an invariant readout avoids. Its
    default ``mask`` is the inscribed disc of the output's spatial axes 1 and 2
    (``geometry.disc_mask(H, W, margin=1)``).

    Args:
      f: the function, ``(batch, size, size, channels) -> y``, or an ``nnx.Module``.
      G: a finite group with ``(|G|, 2, 2)`` matrices (``groups.cyclic(n)``, ``groups.dihedral(n)``).
      size: the input's height and width.
      act_out: ``act_out(G, g, y)`` on outputs, or ``None`` for invariance.
      mask: array broadcast against ``y``; only its non-zero entries count.
      norm: ``"l2"`` (Euclidean norm of the masked entries) or ``"max"`` (largest absolute entry).
      batch, channels, blobs, sigma, seed: the inputs, as in :func:`gaussian_blobs`.

    Returns:
      :class:`OffGridErrors`: per element, the error, its angle, whether it is a
      reflection and whether it maps the grid to itself.

    Raises:
      ValueError: for a group without planar matrices, an unknown ``norm`` or
        a ``mask`` that does not broadcast against ``f``'s output.
      TypeError: for an ``f`` or ``act_out`` that is not callable.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> radial = lambda x: jnp.sum(x ** 2, axis=(1, 2))  # invariant under every rotation
    >>> result = offgrid_equivariance(radial, groups.cyclic(8), size=17)
    >>> result.angles.tolist()
    [0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0]
    >>> result.on_grid.tolist()
    [True, False, True, False, True, False, True, False]
    >>> result.ongrid_max() < 1e-6, result.offgrid_mean() < 1e-2  # a sum over pixels is not an integral
    (True, True)
    """
    matrices = _planar(G)
    if not callable(f):
        raise TypeError(f"f must be a callable (batch, size, size, channels) -> y, got {f!r}")
    if act_out is not None and not callable(act_out):
        raise TypeError(f"act_out must be a callable act_out(G, g, y) or None (invariance), got {act_out!r}")
    if norm not in _NORMS:
        raise ValueError(f"norm must be one of {_NORMS}, got {norm!r}")
    options = dict(batch=batch, channels=channels, blobs=blobs, sigma=sigma, seed=seed)
    inputs = [gaussian_blobs(size, **options)] + [gaussian_blobs(size, matrix=m, **options) for m in matrices]
    function = as_function(f)
    with explained_trace_errors(f), jax.default_matmul_precision("highest"):
        out = function(jnp.asarray(np.concatenate(inputs)))
        out = out.reshape((len(inputs), batch) + out.shape[1:]).astype(jnp.promote_types(out.dtype, jnp.float32))
        y = out[0]
        if mask is None and act_out is not None:
            if y.ndim < 3:
                raise ValueError(f"act_out needs outputs with spatial axes 1 and 2, got shape {y.shape}; "
                                 "give a mask or act_out=None")
            mask = disc_mask(y.shape[1], y.shape[2], margin=1).reshape((1,) + y.shape[1:3] + (1,) * (y.ndim - 3))
        keep = jnp.ones_like(y, dtype=bool) if mask is None else jnp.asarray(mask) != 0
        try:
            fits = jnp.broadcast_shapes(keep.shape, y.shape) == y.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"mask must broadcast against the output of f, of shape {y.shape}, got {keep.shape}")

        def size_of(a):
            a = jnp.where(keep, a, 0)
            return jnp.max(jnp.abs(a)) if norm == "max" else jnp.sqrt(jnp.sum(a ** 2))

        reference = size_of(y)
        reference = jnp.where(reference > 0, reference, 1.0)
        errors = [size_of(out[g + 1] - (y if act_out is None else act_out(G, g, y))) / reference
                  for g in range(len(matrices))]
    return OffGridErrors(np.asarray(jnp.stack(errors), np.float64), *_angles(matrices))


def check_offgrid_equivariance(f: Callable, G: Any, *, tol: float = 1e-5, offgrid_tol: float | None = None,
                               **options) -> OffGridErrors:
    """Check :func:`offgrid_equivariance`: exact (``tol``) on the grid, within ``offgrid_tol`` off it.

    Args:
      f, G: as in :func:`offgrid_equivariance`.
      tol: largest accepted error of the elements that map the grid to itself.
      offgrid_tol: largest accepted error of the other elements; ``None``: measured, not checked.
      **options: the keyword arguments of :func:`offgrid_equivariance` (``size``, ``act_out``, ...).

    Returns:
      The :class:`OffGridErrors`.

    Raises:
      EquivarianceError: (an ``AssertionError``) with one line per element
        (angle, reflection, on or off the grid, error) when a tolerance is exceeded.
      ValueError: for a negative ``tol`` or ``offgrid_tol``, or as :func:`offgrid_equivariance`.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> result = check_offgrid_equivariance(lambda x: jnp.sum(x, axis=(1, 2)), groups.dihedral(8), size=17,
    ...                                     offgrid_tol=1e-2)
    >>> int(result.reflections.sum()), int(result.on_grid.sum())
    (8, 8)
    """
    check_tolerance(tol, "tol")
    if offgrid_tol is not None:
        check_tolerance(offgrid_tol, "offgrid_tol")
    result = offgrid_equivariance(f, G, **options)
    limit = np.where(result.on_grid, tol, np.inf if offgrid_tol is None else offgrid_tol)
    failing = result.errors > limit
    if failing.any():
        name = getattr(G, "name", f"a group of order {G.order}")
        kind = "invariant" if options.get("act_out") is None else "equivariant"
        raise EquivarianceError(
            f"not {kind} under {name} on analytic inputs: {int(failing.sum())} of {len(failing)} elements exceed "
            f"tol={tol:g} on the grid / offgrid_tol={offgrid_tol} off it\n{result.report(tol, offgrid_tol)}")
    return result
