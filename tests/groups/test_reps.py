import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.linalg import expm
from scipy.stats import ortho_group, special_ortho_group, unitary_group

from symjax import groups
from symjax.groups._reps import (
    MAX_PROBLEM_SIZE,
    DirectSum,
    Dual,
    Permutation,
    Regular,
    Standard,
    TensorProduct,
    Trivial,
    equivariant_basis,
    invariant_basis,
)

SO3, O3 = groups.SO(3), groups.O(3)
V, W = Standard(SO3), Standard(O3)


@functools.lru_cache(maxsize=None)
def _samples(G) -> np.ndarray:
    """Four Haar-random elements of a Lie group, float64 (SciPy, so no XLA compilation per group)."""
    if G.kind == "SU":
        u = unitary_group.rvs(G.n, size=4, random_state=0)
        return u / np.linalg.det(u)[:, None, None] ** (1.0 / G.n)
    sampler = special_ortho_group if G.kind == "SO" else ortho_group
    return sampler.rvs(G.n, size=4, random_state=0).reshape(4, G.n, G.n)


def _sn(n):
    return Standard(groups.symmetric(n))


KNOWN = [
    ("SO3 V->V", V, V, 1),
    ("SO3 VxV->V (cross product)", V * V, V, 1),
    ("O3 VxV->V (pseudo-vector)", W * W, W, 0),
    ("O3 V->V", W, W, 1),
    ("SO3 VxV->1", V * V, Trivial(SO3), 1),
    ("SO3 VxVxV->1 (determinant)", V ** 3, Trivial(SO3), 1),
    ("O3 VxVxV->1", W ** 3, Trivial(O3), 0),
    ("SO3 VxV->VxV", V ** 2, V ** 2, 3),
    ("SO2 V->V", Standard(groups.SO(2)), Standard(groups.SO(2)), 2),
    ("O2 V->V", Standard(groups.O(2)), Standard(groups.O(2)), 1),
    ("SO3 1->1", Trivial(SO3), Trivial(SO3), 1),
    ("S3 R^n->R^n (DeepSets)", _sn(3), _sn(3), 2),
    ("S4 R^n->R^n (DeepSets)", _sn(4), _sn(4), 2),
    ("S5 R^n->R^n (DeepSets)", _sn(5), _sn(5), 2),
    ("S4 R^nxR^n->R^n (Bell(3))", _sn(4) ** 2, _sn(4), 5),
    ("S4 R^nxR^n->R^nxR^n (Bell(4))", _sn(4) ** 2, _sn(4) ** 2, 15),
    ("C1 1->1", Trivial(groups.trivial()), Trivial(groups.trivial()), 1),
    ("D4 1->1", Trivial(groups.dihedral(4)), Trivial(groups.dihedral(4)), 1),
    ("SU2 U->U", Standard(groups.SU(2)), Standard(groups.SU(2)), 1),
    ("SU2 UxU*->1", Standard(groups.SU(2)) * Standard(groups.SU(2)).dual(), Trivial(groups.SU(2)), 1),
    ("mixed sums", 2 * V + Trivial(SO3), V + 3 * Trivial(SO3), 2 + 3),
]


@pytest.mark.parametrize("rep_in, rep_out, k", [c[1:] for c in KNOWN], ids=[c[0] for c in KNOWN])
def test_known_dimensions(rep_in, rep_out, k):
    B = equivariant_basis(rep_in, rep_out)
    assert B.shape == (k, rep_out.dim, rep_in.dim)


@pytest.mark.parametrize("G", [groups.cyclic(5), groups.dihedral(3), groups.symmetric(3), groups.klein_four(),
                               groups.alternating(4), groups.trivial()], ids=lambda G: G.name)
def test_regular_to_regular_has_order_maps(G):
    B = equivariant_basis(Regular(G), Regular(G))
    assert B.shape == (G.order, G.order, G.order)
    _assert_constraint_finite(B, Regular(G), Regular(G))


def test_cross_product_is_levi_civita():
    B = equivariant_basis(V * V, V)
    eps = np.zeros((3, 3, 3))
    for i, j, k in [(0, 1, 2), (1, 2, 0), (2, 0, 1)]:
        eps[i, j, k], eps[i, k, j] = 1.0, -1.0
    np.testing.assert_allclose(B[0], eps.reshape(3, 9) / np.sqrt(6), atol=1e-12)
    a, b = np.array([0.3, -1.0, 2.0]), np.array([1.5, 0.2, -0.7])
    np.testing.assert_allclose(np.sqrt(6) * B[0] @ np.kron(a, b), np.cross(a, b), atol=1e-12)


def test_deepsets_basis_spans_identity_and_all_ones():
    B = equivariant_basis(_sn(4), _sn(4)).reshape(2, 16)
    for target in (np.eye(4), np.ones((4, 4))):
        t = target.reshape(16)
        np.testing.assert_allclose(B.T @ (B @ t), t, atol=1e-12)  # in the span


def _assert_constraint_finite(B, rep_in, rep_out, atol=1e-5):
    m_in, m_out = rep_in.matrices, rep_out.matrices
    lhs = np.einsum("koi,gij->kgoj", B, m_in)
    rhs = np.einsum("gop,kpi->kgoi", m_out, B)
    np.testing.assert_allclose(lhs, rhs, atol=atol)


FINITE_PAIRS = [
    (Regular(groups.dihedral(4)), Standard(groups.dihedral(4)) + Trivial(groups.dihedral(4))),
    (Standard(groups.dihedral(3)) ** 2, Standard(groups.dihedral(3))),
    (Standard(groups.cyclic(6)) * Regular(groups.cyclic(6)), Regular(groups.cyclic(6))),
    (Permutation(groups.symmetric(4)), Permutation(groups.symmetric(4)) ** 2),
    (Regular(groups.symmetric(3)).dual(), Standard(groups.symmetric(3))),
]


@pytest.mark.parametrize("rep_in, rep_out", FINITE_PAIRS, ids=repr)
def test_constraint_holds_for_every_element(rep_in, rep_out):
    B = equivariant_basis(rep_in, rep_out)
    assert len(B) > 0
    _assert_constraint_finite(B, rep_in, rep_out)
    np.testing.assert_allclose(B.reshape(len(B), -1) @ B.reshape(len(B), -1).T, np.eye(len(B)), atol=1e-10)


LIE_PAIRS = [
    (V * V, V),
    (V ** 2, V ** 2),
    (V ** 2 + V, Trivial(SO3) + V),
    (W ** 2, W ** 2 + Trivial(O3)),
    (W.dual() * W, Trivial(O3)),
    (Standard(groups.SO(4)) ** 2, Trivial(groups.SO(4))),
    (Standard(groups.SU(2)) ** 2, Standard(groups.SU(2)) ** 2),
]


@pytest.mark.parametrize("rep_in, rep_out", LIE_PAIRS, ids=repr)
def test_constraint_holds_for_generators_and_samples(rep_in, rep_out):
    G = rep_in.group
    B = equivariant_basis(rep_in, rep_out)
    assert len(B) > 0
    for A in G.lie_algebra:
        np.testing.assert_allclose(B @ rep_in.drho(A), rep_out.drho(A) @ B, atol=1e-5)
    if G.kind == "O":
        h = np.diag([-1.0] + [1.0] * (G.n - 1))
        np.testing.assert_allclose(B @ rep_in._build(h, np), rep_out._build(h, np) @ B, atol=1e-5)
    g = _samples(G)
    r_in, r_out = rep_in._build(g, np), rep_out._build(g, np)
    np.testing.assert_allclose(np.einsum("koi,gij->kgoj", B, r_in), np.einsum("gop,kpi->kgoi", r_out, B), atol=1e-5)
    flat = B.reshape(len(B), rep_out.dim * rep_in.dim)
    np.testing.assert_allclose(flat @ flat.conj().T, np.eye(len(B)), atol=1e-10)


def test_reflection_is_a_constraint_for_O3_only():
    assert equivariant_basis(V ** 3, Trivial(SO3)).shape[0] == 1  # the determinant
    assert equivariant_basis(W ** 3, Trivial(O3)).shape[0] == 0


@st.composite
def rep_pairs(draw):
    G = draw(st.sampled_from([groups.dihedral(3), groups.cyclic(4), groups.symmetric(3), groups.klein_four(),
                              groups.SO(2), groups.O(2), groups.SO(3), groups.O(3)]))
    leaves = [Trivial(G), Standard(G)]
    if isinstance(G, groups.FiniteGroup):
        leaves.append(Regular(G))

    def build(depth):
        if depth == 0 or draw(st.booleans()):
            return draw(st.sampled_from(leaves))
        op = draw(st.sampled_from(["sum", "tensor", "dual"]))
        a = build(depth - 1)
        if op == "dual":
            return a.dual()
        b = build(depth - 1)
        return a + b if op == "sum" else a * b

    rep_in, rep_out = build(2), build(2)
    assume(rep_in.dim * rep_out.dim <= 400)
    return rep_in, rep_out


@given(rep_pairs())
def test_random_reps_basis_is_equivariant_and_orthonormal(pair):
    rep_in, rep_out = pair
    G = rep_in.group
    B = equivariant_basis(rep_in, rep_out)
    assert B.shape[1:] == (rep_out.dim, rep_in.dim)
    if isinstance(G, groups.FiniteGroup):
        _assert_constraint_finite(B, rep_in, rep_out)
    else:
        g = _samples(G)
        lhs = np.einsum("koi,gij->kgoj", B, rep_in._build(g, np))
        np.testing.assert_allclose(lhs, np.einsum("gop,kpi->kgoi", rep_out._build(g, np), B), atol=1e-5)
    flat = B.reshape(len(B), rep_out.dim * rep_in.dim)
    np.testing.assert_allclose(flat @ flat.T, np.eye(len(B)), atol=1e-10)


@given(rep_pairs(), st.integers(0, 10 ** 6), st.integers(0, 10 ** 6))
def test_rho_is_a_homomorphism(pair, a, b):
    rep = pair[0]
    G = rep.group
    if isinstance(G, groups.FiniteGroup):
        a, b = a % G.order, b % G.order
        M = rep.matrices
        np.testing.assert_allclose(M[G.cayley_table[a, b]], M[a] @ M[b], atol=1e-10)
        np.testing.assert_allclose(M[0], np.eye(rep.dim), atol=1e-12)
    else:
        g, h = _samples(G)[a % 4], _samples(G)[b % 4]
        np.testing.assert_allclose(rep._build(g @ h, np), rep._build(g, np) @ rep._build(h, np), atol=1e-10)


@given(rep_pairs())
def test_drho_is_the_derivative_of_rho(pair):
    rep = pair[0]
    G = rep.group
    assume(isinstance(G, groups.LieGroup) and G.dim > 0)
    t = 1e-5
    for A in G.lie_algebra:
        deriv = (rep._build(expm(t * A), np) - rep._build(expm(-t * A), np)) / (2 * t)
        np.testing.assert_allclose(deriv, rep.drho(A), atol=1e-6)


def test_basis_is_cached_and_read_only():
    B = equivariant_basis(V * V, V)
    assert equivariant_basis(Standard(groups.SO(3)) * Standard(groups.SO(3)), Standard(groups.SO(3))) is B
    with pytest.raises(ValueError):
        B[0, 0, 0] = 1.0
    assert not invariant_basis(V * V).flags.writeable


def test_reps_are_hashable_values():
    a = 2 * V + Trivial(SO3)
    b = DirectSum(V, V, Trivial(SO3))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert V * V == TensorProduct(V, V) and (V * V) * V == V * (V * V) == V ** 3
    assert V != W and V + V != V * V
    assert V.dual().dual() == V and Dual(V) == V.dual()
    assert V ** 0 == Trivial(SO3) and V ** 1 == V
    with pytest.raises(AttributeError):
        V.group = O3


def test_repr():
    assert repr(2 * V + Trivial(SO3)) == "Rep[SO(3)](2V + 1)"
    assert repr((V + V) * V) == "Rep[SO(3)]((2V)⊗V)"
    assert repr((V * V).dual()) == "Rep[SO(3)]((V⊗V)*)"
    assert repr(Regular(groups.cyclic(3))) == "Rep[C3](R)"


def test_direct_sum_blocks_match_a_single_solve():
    B = equivariant_basis(V + Trivial(SO3), V + Trivial(SO3))
    assert B.shape == (2, 4, 4)
    M = np.zeros((4, 4))
    M[:3, :3] = np.eye(3) / np.sqrt(3)
    M[3, 3] = 1.0
    np.testing.assert_allclose(B.reshape(2, 16).T @ (B.reshape(2, 16) @ M.ravel()), M.ravel(), atol=1e-12)


def test_permutation_and_regular_agree():
    G = groups.dihedral(3)
    np.testing.assert_array_equal(Permutation(G, G.cayley_table).matrices, Regular(G).matrices)
    S4 = groups.symmetric(4)
    np.testing.assert_array_equal(Permutation(S4).matrices, Standard(S4).matrices)
    assert equivariant_basis(Permutation(groups.trivial(), [[0, 1, 2]]), Trivial(groups.trivial())).shape == (3, 1, 3)


def test_invariant_basis():
    inv = invariant_basis(V * V)
    np.testing.assert_allclose(inv, np.eye(3).reshape(1, 9) / np.sqrt(3), atol=1e-12)
    assert invariant_basis(V).shape == (0, 3)
    np.testing.assert_allclose(np.abs(invariant_basis(Regular(groups.cyclic(4)))), 0.5, atol=1e-12)


def test_rho_under_jit_and_vmap():
    rep = Standard(groups.dihedral(4)) + Regular(groups.dihedral(4))
    M = rep.matrices
    np.testing.assert_allclose(jax.jit(rep.rho)(jnp.int32(5)), M[5], atol=1e-6)
    np.testing.assert_allclose(jax.vmap(rep.rho)(jnp.arange(8)), M, atol=1e-6)
    R = _samples(SO3)
    rep3 = V * V + V.dual()
    expected = rep3._build(R, np)
    assert expected.shape == (4, 12, 12)
    np.testing.assert_allclose(jax.jit(rep3.rho)(jnp.asarray(R, jnp.float32)), expected, atol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="one group.*SO\\(3\\).*O\\(3\\)"):
        V + W
    with pytest.raises(ValueError, match="rep_in and rep_out.*SO\\(3\\).*O\\(3\\)"):
        equivariant_basis(V, W)
    with pytest.raises(TypeError, match="rep_out must be a symjax representation"):
        equivariant_basis(V, np.eye(3))
    with pytest.raises(ValueError, match="Regular expects a finite group"):
        Regular(SO3)
    with pytest.raises(ValueError, match="Standard expects a group with matrices"):
        Standard(groups.from_cayley_table([[0, 1], [1, 0]], name="Z2"))
    with pytest.raises(TypeError, match="group"):
        Trivial("SO(3)")
    with pytest.raises(ValueError, match="not an action"):
        Permutation(groups.cyclic(3), [[0, 1, 2], [1, 0, 2], [2, 1, 0]])
    with pytest.raises(ValueError, match="perms must be integers of shape"):
        Permutation(groups.cyclic(3), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="reads perms from group.matrices"):
        Permutation(groups.cyclic(4))
    with pytest.raises(ValueError, match="multiplicity must be a positive int, got 0"):
        0 * V
    with pytest.raises(ValueError, match="tensor power"):
        V ** -1
    with pytest.raises(ValueError, match="drho is the Lie algebra representation"):
        Regular(groups.cyclic(3)).drho(np.eye(3))
    with pytest.raises(ValueError, match="expects A of shape \\(3, 3\\)"):
        V.drho(np.eye(2))
    with pytest.raises(ValueError, match="expects g of shape \\(..., 3, 3\\), got \\(2, 2\\)"):
        V.rho(np.eye(2))
    with pytest.raises(ValueError, match="Lie group"):
        V.matrices
    with pytest.raises(ValueError, match="in \\[0, 3\\)"):
        Regular(groups.cyclic(3)).rho(3)
    big = Regular(groups.symmetric(5))
    with pytest.raises(ValueError, match=f"above the limit {MAX_PROBLEM_SIZE}"):
        equivariant_basis(big, big)
