import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from symjax import groups
from symjax.groups import GroupAxiomError

CONSTRUCTORS = {
    "C1": groups.trivial, "C2": lambda: groups.cyclic(2), "C4": lambda: groups.cyclic(4),
    "C7": lambda: groups.cyclic(7), "D1": lambda: groups.dihedral(1), "D2": lambda: groups.dihedral(2),
    "D4": lambda: groups.dihedral(4), "D6": lambda: groups.dihedral(6), "S3": lambda: groups.symmetric(3),
    "S4": lambda: groups.symmetric(4), "A4": lambda: groups.alternating(4), "V4": groups.klein_four,
    "C2xD4": lambda: groups.direct_product(groups.cyclic(2), groups.dihedral(4)),
}


@pytest.mark.parametrize("name", CONSTRUCTORS)
def test_axioms_and_representations(name):
    G = CONSTRUCTORS[name]()
    groups.check_group(G)
    table = G.cayley_table
    assert G.identity == 0
    np.testing.assert_array_equal(table[np.arange(G.order), G.inverse_table], 0)
    np.testing.assert_array_equal(table[G.inverse_table, np.arange(G.order)], 0)
    # the regular representation is a homomorphism of permutation matrices
    R = G.regular_representation()
    np.testing.assert_array_equal(np.einsum("aij,bjk->abik", R, R), R[table])
    np.testing.assert_array_equal(R.sum(axis=1), 1)
    # the matrices are a faithful homomorphism
    if G.matrices is not None:
        M = G.matrices
        np.testing.assert_allclose(np.einsum("aij,bjk->abik", M, M), M[table], atol=1e-12)
        flat = M.reshape(G.order, -1)
        assert len(np.unique(np.round(flat, 8), axis=0)) == G.order


def test_orders_and_names():
    assert [groups.cyclic(n).order for n in (1, 3, 8)] == [1, 3, 8]
    assert groups.dihedral(4).order == 8 and groups.dihedral(4).name == "D4"
    assert groups.symmetric(4).order == 24 and groups.alternating(5).order == 60
    assert groups.cyclic(5).is_abelian and not groups.dihedral(3).is_abelian


def test_dihedral_convention():
    n = 5
    D = groups.dihedral(n)
    for k1 in range(n):
        for m1 in range(2):
            for k2 in range(n):
                for m2 in range(2):
                    expected = (k1 + (-1) ** m1 * k2) % n + n * (m1 ^ m2)
                    assert int(D.compose(k1 + n * m1, k2 + n * m2)) == expected
    np.testing.assert_allclose(D.matrices[n], np.diag([-1.0, 1.0]))


def test_cyclic_matrices_rotate_counter_clockwise():
    np.testing.assert_allclose(groups.cyclic(4).matrices[1] @ [1.0, 0.0], [0.0, 1.0], atol=1e-12)


@given(st.sampled_from(sorted(CONSTRUCTORS)), st.sampled_from(sorted(CONSTRUCTORS)))
def test_direct_products_are_groups(a, b):
    G, H = CONSTRUCTORS[a](), CONSTRUCTORS[b]()
    P = groups.direct_product(G, H)
    assert P.order == G.order * H.order
    if P.order <= 200:
        groups.check_group(P)
    assert P.is_abelian == (G.is_abelian and H.is_abelian)


_JITTED = {name: (jax.jit(lambda a, b, G=G: G.compose(a, b)), jax.jit(lambda a, G=G: G.inverse(a)))
           for name, G in ((n, c()) for n, c in CONSTRUCTORS.items())}


@given(st.sampled_from(sorted(CONSTRUCTORS)), st.data())
def test_compose_inverse_int_numpy_and_traced(name, data):
    G = CONSTRUCTORS[name]()
    a = data.draw(st.integers(0, G.order - 1))
    b = data.draw(st.integers(0, G.order - 1))
    expected = G.cayley_table[a, b]
    compose, inverse = _JITTED[name]
    assert int(G.compose(a, b)) == expected
    assert int(G.compose(np.int64(a), np.int32(b))) == expected
    assert int(compose(jnp.int32(a), jnp.int32(b))) == expected
    assert int(inverse(jnp.int32(a))) == G.inverse_table[a]


@pytest.mark.parametrize("name", ["C4", "D4", "S3"])
def test_compose_inverse_broadcast_and_vmap(name):
    G = CONSTRUCTORS[name]()
    ar = jnp.arange(G.order)
    np.testing.assert_array_equal(G.compose(ar[:, None], ar[None, :]), G.cayley_table)
    np.testing.assert_array_equal(jax.vmap(G.inverse)(ar), G.inverse_table)


def test_hashable_static_and_picklable():
    D4 = groups.dihedral(4)
    assert D4 == groups.dihedral(4) and hash(D4) == hash(groups.dihedral(4))
    assert D4 != groups.cyclic(8) and D4 != groups.generate(D4.matrices[[1, 4]], name="D4")
    assert pickle.loads(pickle.dumps(D4)) == D4
    with pytest.raises(Exception):
        D4.cayley_table[0, 0] = 3
    with pytest.raises(Exception):
        D4.order = 3

    assert jax.jit(lambda x, G: x * G.order, static_argnums=1)(2.0, D4) == 16.0


def test_subgroups_cosets_quotients():
    D4 = groups.dihedral(4)
    rot = D4.subgroup([1])
    assert rot.elements.tolist() == [0, 1, 2, 3]
    assert D4.is_normal(rot)
    Q = D4.quotient(rot)
    assert Q.order == 2
    groups.check_group(Q)
    cos = D4.cosets(rot)
    assert cos.shape == (2, 4) and sorted(cos.ravel().tolist()) == list(range(8))
    refl = D4.subgroup([4])
    assert not D4.is_normal(refl)
    with pytest.raises(ValueError, match="not normal"):
        D4.quotient(refl)
    with pytest.raises(ValueError, match=r"\[0, 1\] is not a subgroup of D4: not closed \(1 \* 1 = 2"):
        D4.quotient([0, 1])
    center = D4.subgroup([2])
    assert D4.is_normal(center)
    Q = D4.quotient(center)
    assert Q.order == 4 and Q.is_abelian  # D4 / Z(D4) = V4
    A4 = groups.symmetric(4).subgroup([i for i in range(24) if np.linalg.det(groups.symmetric(4).matrices[i]) > 0])
    assert A4.group.order == 12 and groups.symmetric(4).quotient(A4).order == 2


def test_generate_recovers_dihedral():
    D4 = groups.dihedral(4)
    G = groups.generate([D4.matrices[1], D4.matrices[4]], name="gen")
    assert G.order == 8 and not G.is_abelian
    groups.check_group(G)
    with pytest.raises(ValueError, match="max_order"):
        groups.generate([groups.SO(2).exp(jnp.array([1.0]))], max_order=50)


def test_from_cayley_table_validates():
    z3 = groups.from_cayley_table([[0, 1, 2], [1, 2, 0], [2, 0, 1]], name="Z3")
    assert z3.order == 3
    with pytest.raises(GroupAxiomError, match="identity"):
        groups.from_cayley_table([[1, 0], [0, 1]])
    with pytest.raises(GroupAxiomError, match="associativity"):
        # a Latin square with identity 0 that is not associative
        groups.from_cayley_table([[0, 1, 2, 3, 4], [1, 0, 3, 4, 2], [2, 4, 0, 1, 3],
                                  [3, 2, 4, 0, 1], [4, 3, 1, 2, 0]])
    with pytest.raises(GroupAxiomError, match="closure"):
        groups.from_cayley_table([[0, 5], [5, 0]])
    with pytest.raises(ValueError, match="square"):
        groups.from_cayley_table([[0, 1, 2]])
    assert issubclass(GroupAxiomError, ValueError)


@pytest.mark.parametrize("fn,arg,exc,match", [
    (groups.cyclic, 0, ValueError, "n >= 1, got 0"),
    (groups.dihedral, -2, ValueError, "n >= 1, got -2"),
    (groups.cyclic, 2.5, TypeError, "integer n"),
    (groups.symmetric, 9, ValueError, "n <= 7"),
])
def test_bad_constructor_arguments(fn, arg, exc, match):
    with pytest.raises(exc, match=match):
        fn(arg)


def test_bad_elements():
    C4 = groups.cyclic(4)
    with pytest.raises(ValueError, match=r"\[0, 4\), got 4"):
        C4.compose(4, 0)
    with pytest.raises(TypeError, match="integer"):
        C4.inverse(jnp.float32(1.0))
