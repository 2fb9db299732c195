"""The cube groups O and O_h: group laws, matrices, element numbering and subgroups."""
import numpy as np
import pytest

from symjax import groups


@pytest.mark.parametrize("G, order", [(groups.octahedral(), 24), (groups.full_octahedral(), 48)])
def test_laws_and_matrices(G, order):
    groups.check_group(G)
    m = G.matrices
    assert G.order == order and m.shape == (order, 3, 3) and G.identity == 0
    np.testing.assert_array_equal(m[0], np.eye(3))
    np.testing.assert_allclose(np.einsum("aij,bjk->abik", m, m), m[G.cayley_table])  # a representation
    assert len({x.tobytes() for x in m}) == order  # faithful
    assert set(np.unique(m).tolist()) == {-1.0, 0.0, 1.0} and (np.abs(m).sum(axis=1) == 1).all()  # signed perms
    np.testing.assert_allclose(m[G.inverse_table], np.swapaxes(m, 1, 2))  # orthogonal
    assert not G.is_abelian


def test_numbering():
    O, Oh = groups.octahedral(), groups.full_octahedral()
    assert np.allclose(np.linalg.det(O.matrices), 1.0)
    np.testing.assert_array_equal(Oh.matrices[:24], O.matrices)
    np.testing.assert_array_equal(Oh.matrices[24:], -O.matrices)
    np.testing.assert_array_equal(Oh.cayley_table[:24, :24], O.cayley_table)
    c4 = groups.cyclic(4).matrices
    np.testing.assert_allclose(O.matrices[:4, :2, :2], c4)  # elements 0..3: C4 in the (x, y) plane
    np.testing.assert_array_equal(O.matrices[:4, 2], [[0, 0, 1]] * 4)
    images = {tuple(m @ np.array([0, 0, 1])) for m in O.matrices[::4]}  # F_f carries +z to the six faces
    assert len(images) == 6


def test_subgroups():
    O, Oh = groups.octahedral(), groups.full_octahedral()
    c4 = O.subgroup([1])
    assert c4.elements.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(c4.group.cayley_table, groups.cyclic(4).cayley_table)
    klein = O.subgroup([2, 8])
    assert klein.group.order == 4 and klein.group.is_abelian and O.is_normal(klein)
    assert O.quotient(klein).order == 6  # O / V4 is S3
    assert Oh.subgroup(range(1, 24)).elements.tolist() == list(range(24)) and Oh.is_normal(Oh.subgroup(range(24)))
    assert Oh.subgroup([24]).group.order == 2 and Oh.is_normal(Oh.subgroup([24]))  # the inversion, central
    assert O.subgroup([1, 4]).group.order == 24  # two quarter turns about different axes generate O
    assert not O.is_normal(c4)
