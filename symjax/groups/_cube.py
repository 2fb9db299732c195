"""The symmetry groups of the cube: the octahedral rotation group O and the full octahedral group O_h.

Their matrices are the 3x3 signed permutation matrices (of determinant +1 for
O): they act on coordinates ``(x, y, z)`` and permute the voxels of a cubic
grid exactly (:mod:`symjax.geometry` says which array axis each coordinate is).
Elements are numbered so that the small subgroups are easy to name:

- element ``4*f + k`` of O is ``F_f @ R_z^k``: first ``k`` quarter turns about
  the ``z`` axis (counter-clockwise in the ``(x, y)`` plane, like ``cyclic(4)``),
  then the rotation ``F_f`` that carries ``+z`` to the ``f``-th face:
  ``F_0 = I``, ``F_1, F_2, F_3`` the quarter, half and three-quarter turns about
  ``x``, ``F_4, F_5`` the quarter and three-quarter turns about ``y``;
- element ``g + 24*m`` of O_h is ``(-I)^m`` times element ``g`` of O (``-I``
  is the inversion through the centre, central), so O is O_h's first 24 elements.

So ``subgroup([1])`` is C4 about ``z``, ``subgroup([2, 8])`` the Klein
four-group of half turns about the three axes (normal in O), ``subgroup([1, 24])``
C4 x inversion in O_h.

>>> from symjax import groups
>>> O = groups.octahedral()
>>> O.order, O.subgroup([1]).group.order, O.is_normal(O.subgroup([2, 8]))
(24, 4, True)
"""
from __future__ import annotations

import functools

import numpy as np

from symjax.groups._finite import FiniteGroup

__all__ = ["octahedral", "full_octahedral"]


def _turn(axis: int, quarters: int) -> np.ndarray:
    """The rotation by ``quarters`` quarter turns about coordinate ``axis`` (right-handed), as an int matrix."""
    c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][quarters % 4]
    i, j = [(1, 2), (2, 0), (0, 1)][axis]  # the plane turned: x -> y about z, y -> z about x, z -> x about y
    m = np.eye(3, dtype=np.int64)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def _from_matrices(mats: np.ndarray, name: str) -> FiniteGroup:
    index = {m.tobytes(): i for i, m in enumerate(mats)}
    table = np.array([[index[(a @ b).tobytes()] for b in mats] for a in mats])
    return FiniteGroup(name, table, mats.astype(np.float64), validate=False)


def _rotations() -> np.ndarray:
    faces = [np.eye(3, dtype=np.int64), _turn(0, 1), _turn(0, 2), _turn(0, 3), _turn(1, 1), _turn(1, 3)]
    return np.stack([f @ _turn(2, k) for f in faces for k in range(4)])


@functools.lru_cache(maxsize=None)
def octahedral() -> FiniteGroup:
    """The octahedral group O (order 24): the rotations of the cube, as 3x3 signed permutation matrices.

    Element ``4*f + k`` is ``k`` quarter turns about ``z`` followed by the
    rotation ``F_f`` carrying ``+z`` to face ``f`` (module docstring); elements
    ``0..3`` act on each depth slice of a volume as ``cyclic(4)`` acts on an image.

    >>> O = octahedral()
    >>> O.name, O.order, O.matrices.shape, O.matrices[1].astype(int).tolist()
    ('O', 24, (24, 3, 3), [[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    """
    return _from_matrices(_rotations(), "O")


@functools.lru_cache(maxsize=None)
def full_octahedral() -> FiniteGroup:
    """The full octahedral group O_h (order 48): rotations and reflections of the cube (O x inversion).

    Element ``g + 24*m`` is ``(-I)^m`` times element ``g`` of :func:`octahedral`;
    ``subgroup(range(24))`` is O.

    >>> Oh = full_octahedral()
    >>> Oh.name, Oh.order, Oh.matrices[24].astype(int).tolist()
    ('Oh', 48, [[-1, 0, 0], [0, -1, 0], [0, 0, -1]])
    """
    rotations = _rotations()
    return _from_matrices(np.concatenate([rotations, -rotations]), "Oh")
