import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax import groups
from symjax.groups import (
    O,
    SO,
    DirectSum,
    Irrep,
    Permutation,
    Quotient,
    Regular,
    Restricted,
    Standard,
    Trivial,
    cyclic,
    decompose,
    dihedral,
    equivariant_basis,
    fourier_decomposition,
    irreps,
    restrict,
)

NS = [1, 2, 3, 4, 5, 6, 8]
FINITE = [cyclic(n) for n in NS] + [dihedral(n) for n in NS]
SO2, O2 = SO(2), O(2)


@functools.lru_cache(maxsize=None)
def _samples(G) -> np.ndarray:
    """Six Haar-random elements of SO(2)/O(2), float64 (SciPy)."""
    from scipy.stats import ortho_group, special_ortho_group  # imported here: scipy.stats is slow to import

    if G.kind == "SO":
        return special_ortho_group.rvs(2, size=6, random_state=0)
    return ortho_group.rvs(2, size=6, random_state=1)


def _ids(G):
    return [psi.id for psi in irreps(G)]


# -- the irreps of the finite groups ---------------------------------------------------------------

@pytest.mark.parametrize("G", FINITE, ids=lambda G: G.name)
def test_homomorphism_every_pair(G):
    table = G.cayley_table
    for psi in irreps(G):
        m = psi.matrices
        np.testing.assert_allclose(np.einsum("aij,bjk->abik", m, m), m[table], atol=1e-12)
        np.testing.assert_array_equal(m[0], np.eye(psi.dim))


@pytest.mark.parametrize("G", FINITE, ids=lambda G: G.name)
def test_orthogonal(G):
    for psi in irreps(G):
        m = psi.matrices
        np.testing.assert_allclose(np.einsum("aji,ajk->aik", m, m), np.broadcast_to(np.eye(psi.dim), m.shape),
                                   atol=1e-12)


@pytest.mark.parametrize("G", FINITE, ids=lambda G: G.name)
def test_complete_set_dimensions(G):
    """Sum of dim^2 / (commutant dim) = |G| over the real irreps (Frobenius-Schur over R)."""
    total = sum(psi.dim ** 2 // equivariant_basis(psi, psi).shape[0] for psi in irreps(G))
    assert total == G.order


@pytest.mark.parametrize("G", FINITE, ids=lambda G: G.name)
def test_irreducible_and_schur(G):
    reps = irreps(G)
    for a, psi in enumerate(reps):
        for b, phi in enumerate(reps):
            k = equivariant_basis(psi, phi).shape[0]
            if a != b:
                assert k == 0, (psi, phi)
            else:
                assert k == (2 if psi.type == "C" else 1), psi


@pytest.mark.parametrize("n", NS)
def test_cyclic_irrep_values(n):
    G = cyclic(n)
    for k in range(n // 2 + 1):
        psi = Irrep(G, k)
        assert psi.dim == (1 if k == 0 or 2 * k == n else 2)
        t = 2 * np.pi * k / n
        expected = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) if psi.dim == 2 else [[np.cos(t)]]
        np.testing.assert_allclose(psi.rho(1 % n) if n > 1 else psi.rho(0), expected if n > 1 else np.eye(psi.dim),
                                   atol=1e-6)
        assert psi.type == ("C" if psi.dim == 2 else "R")


def test_ids_and_escnn_order():
    assert _ids(cyclic(6)) == [(0,), (1,), (2,), (3,)]
    assert _ids(dihedral(5)) == [(0, 0), (1, 0), (1, 1), (1, 2)]
    assert _ids(dihedral(6)) == [(0, 0), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]
    assert _ids(dihedral(1)) == [(0, 0), (1, 0)]
    assert _ids(dihedral(2)) == [(0, 0), (1, 0), (0, 1), (1, 1)]
    assert _ids(dihedral(8)) == _ids(dihedral(8))[:5] + [(0, 4), (1, 4)]
    assert [p.id for p in irreps(dihedral(8), max_frequency=2)] == [(0, 0), (1, 0), (1, 1), (1, 2)]
    assert [p.id for p in irreps(SO2, 3)] == [(0,), (1,), (2,), (3,)]
    assert [p.id for p in irreps(O2, 2)] == [(0, 0), (1, 0), (1, 1), (1, 2)]


@pytest.mark.parametrize("n", [2, 3, 4, 8])
def test_dihedral_conventions(n):
    G = dihedral(n)
    s = n  # r^0 s
    if n > 2:
        np.testing.assert_array_equal(Irrep(G, 1, 1).matrices, Standard(G).matrices)  # the group's own matrices
    assert Irrep(G, 1, 0).rho(s).tolist() == [[-1.0]] and Irrep(G, 1, 0).rho(1 % n).tolist() == [[1.0]]
    if n % 2 == 0:
        h = n // 2
        assert Irrep(G, 0, h).rho(1).tolist() == [[-1.0]] and Irrep(G, 0, h).rho(s).tolist() == [[1.0]]
        assert Irrep(G, 1, h).rho(1).tolist() == [[-1.0]] and Irrep(G, 1, h).rho(s).tolist() == [[-1.0]]
    for psi in irreps(G):
        if psi.dim == 2:  # escnn's diag(1, -1) is ours after the change of basis R(pi/2)
            R = np.array([[0.0, -1.0], [1.0, 0.0]])
            np.testing.assert_allclose(R @ np.diag([1.0, -1.0]) @ R.T, psi.rho(s), atol=1e-12)


def test_restriction_dihedral_to_rotations_is_cyclic_irrep():
    for n in (3, 4, 8):
        for psi in irreps(dihedral(n)):
            k = psi.k
            np.testing.assert_array_equal(psi.matrices[:n], Irrep(cyclic(n), k).matrices)


def test_exact_at_quarter_turns():
    psi = Irrep(cyclic(8), 3)
    assert psi.rho(2).tolist() == [[0.0, 1.0], [-1.0, 0.0]]  # rotation by 3 * 90 degrees
    assert Irrep(dihedral(4), 1, 1).rho(5).tolist() == [[0.0, -1.0], [-1.0, 0.0]]


# -- SO(2) and O(2) ----------------------------------------------------------------------------

@pytest.mark.parametrize("G", [SO2, O2], ids=lambda G: G.name)
def test_lie_homomorphism_and_orthogonal(G):
    g = _samples(G)
    for psi in irreps(G, 4):
        m = np.asarray(psi._build(g, np))
        prod = np.asarray(psi._build(np.einsum("aij,bjk->abik", g, g), np))
        np.testing.assert_allclose(np.einsum("aij,bjk->abik", m, m), prod, atol=1e-10)
        np.testing.assert_allclose(np.einsum("aji,ajk->aik", m, m), np.broadcast_to(np.eye(psi.dim), m.shape),
                                   atol=1e-10)


@pytest.mark.parametrize("G", [SO2, O2], ids=lambda G: G.name)
def test_lie_exp_drho(G):
    from scipy.linalg import expm

    A = G.lie_algebra[0]
    for psi in irreps(G, 4):
        for t in (0.3, -1.7, 2.9):
            np.testing.assert_allclose(np.asarray(psi._build(expm(t * A), np)), expm(t * psi.drho(A)), atol=1e-10)


def test_lie_frequencies():
    t = 0.4
    g = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    f = np.diag([-1.0, 1.0])
    for k in range(1, 4):
        kt = k * t
        rk = [[np.cos(kt), -np.sin(kt)], [np.sin(kt), np.cos(kt)]]
        np.testing.assert_allclose(Irrep(SO2, k).rho(g), rk, atol=1e-6)
        np.testing.assert_allclose(Irrep(O2, 1, k).rho(g @ f), np.asarray(rk) @ f, atol=1e-6)
    np.testing.assert_allclose(Irrep(O2, 1, 1).rho(g @ f), g @ f, atol=1e-6)  # the standard representation
    assert float(Irrep(O2, 1, 0).rho(f)[0, 0]) == -1.0 and float(Irrep(O2, 0, 0).rho(f)[0, 0]) == 1.0


def test_lie_irreducible_and_schur():
    for G in (SO2, O2):
        reps = irreps(G, 3)
        for a, psi in enumerate(reps):
            for b, phi in enumerate(reps):
                k = equivariant_basis(psi, phi).shape[0]
                assert k == ((2 if psi.type == "C" else 1) if a == b else 0), (psi, phi)


def test_discretised_irreps_restrict_from_lie():
    for n in (3, 8):
        for k in range(1, (n + 1) // 2):
            np.testing.assert_allclose(Irrep(SO2, k)._build(cyclic(n).matrices, np),
                                       Irrep(cyclic(n), k).matrices, atol=1e-12)
            np.testing.assert_allclose(Irrep(O2, 1, k)._build(dihedral(n).matrices, np),
                                       Irrep(dihedral(n), 1, k).matrices, atol=1e-12)


def test_rho_jit_and_vmap():
    psi = Irrep(O2, 1, 3)
    g = jnp.asarray(_samples(O2), jnp.float32)
    np.testing.assert_allclose(jax.jit(psi.rho)(g), psi.rho(g), atol=1e-5)
    phi = Irrep(dihedral(8), 1, 3)
    np.testing.assert_allclose(jax.jit(jax.vmap(phi.rho))(jnp.arange(16)), phi.matrices, atol=1e-6)


# -- composition with the Rep machinery ----------------------------------------------------------

def test_hash_eq_repr():
    a, b = Irrep(dihedral(4), 1, 1), Irrep(dihedral(4), 1, 1)
    assert a == b and hash(a) == hash(b) and a != Irrep(dihedral(4), 1, 0)
    assert Irrep(cyclic(4), 1) != Irrep(SO2, 1)
    assert repr(Irrep(cyclic(8), 2) + Irrep(cyclic(8), 0)) == "Rep[C8](ψ2 + ψ0)"
    assert repr(Irrep(dihedral(8), 1, 3)) == "Rep[D8](ψ(1,3))"
    with pytest.raises(AttributeError):
        a.k = 2


def test_tensor_products_and_sums():
    C8 = cyclic(8)
    p1, p2, p3 = (Irrep(C8, k) for k in (1, 2, 3))
    assert equivariant_basis(p1 * p2, p3).shape == (2, 2, 4)  # 1 + 2 = 3, complex type
    assert equivariant_basis(p1 * p2, p1).shape == (2, 2, 4)  # 2 - 1 = 1
    assert equivariant_basis(p1 * p2, p2).shape == (0, 2, 4)
    D8 = dihedral(8)
    q1, q2, q3 = (Irrep(D8, 1, k) for k in (1, 2, 3))
    assert equivariant_basis(q1 * q2, q3).shape == (1, 2, 4)
    assert equivariant_basis(q1 * q2 + q1, q3 + 2 * q1).shape == (5, 6, 6)  # q1 * q2 = q1 + q3: 1 + 2 * 2
    assert equivariant_basis(q1 * q1, Irrep(D8, 0, 0) + Irrep(D8, 1, 0)).shape == (2, 2, 4)
    assert equivariant_basis(Irrep(O2, 1, 1) ** 2, Irrep(O2, 1, 0)).shape == (1, 1, 4)  # the cross product


def test_standard_is_irrep_one():
    for G in (cyclic(8), dihedral(6)):
        psi = Irrep(G, 1) if G.name[0] == "C" else Irrep(G, 1, 1)
        assert equivariant_basis(Standard(G), psi).shape[0] == (2 if psi.type == "C" else 1)


# -- Fourier decomposition, decompose, Quotient, restrict ---------------------------------------------

@pytest.mark.parametrize("G", FINITE, ids=lambda G: G.name)
def test_fourier_decomposition(G):
    F = fourier_decomposition(G)
    Q = F.change_of_basis
    assert Q.shape == (G.order, G.order) and not Q.flags.writeable
    np.testing.assert_allclose(Q.T @ Q, np.eye(G.order), atol=1e-12)
    np.testing.assert_allclose(Q @ F.rep.matrices @ Q.T, Regular(G).matrices, atol=1e-12)
    assert sum(m * psi.dim for psi, m in zip(F.irreps, F.multiplicities)) == G.order
    assert F.irreps == irreps(G)
    assert all(m == (1 if psi.type == "C" else psi.dim) for psi, m in zip(F.irreps, F.multiplicities))
    assert decompose(Regular(G)) is F


def test_fourier_coefficients_of_a_constant():
    G = dihedral(4)
    Q = fourier_decomposition(G).change_of_basis
    coeffs = Q.T @ np.ones(G.order)
    np.testing.assert_allclose(coeffs, np.eye(G.order)[0] * np.sqrt(G.order), atol=1e-12)


@pytest.mark.parametrize("rep", [
    Permutation(cyclic(3), [[0, 1, 2], [1, 2, 0], [2, 0, 1]]),
    Standard(dihedral(6)) * Standard(dihedral(6)),
    Irrep(cyclic(8), 3) * Irrep(cyclic(8), 2) + Trivial(cyclic(8)),
    Quotient(dihedral(6), dihedral(6).subgroup([2])),
    Irrep(SO2, 2) * Irrep(SO2, 3) + Irrep(SO2, 1),
    Irrep(O2, 1, 2) * Irrep(O2, 1, 1) + Irrep(O2, 1, 0),
], ids=repr)
def test_decompose(rep):
    d = decompose(rep)
    Q = d.change_of_basis
    np.testing.assert_allclose(Q.T @ Q, np.eye(rep.dim), atol=1e-8)
    assert sum(m * psi.dim for psi, m in zip(d.irreps, d.multiplicities)) == rep.dim
    if isinstance(rep.group, groups.FiniteGroup):
        np.testing.assert_allclose(Q @ d.rep.matrices @ Q.T, rep.matrices, atol=1e-8)
    else:
        g = _samples(rep.group)
        np.testing.assert_allclose(Q @ np.asarray(d.rep._build(g, np)) @ Q.T, np.asarray(rep._build(g, np)),
                                   atol=1e-8)


def test_decompose_frequencies():
    d = decompose(Irrep(SO2, 2) * Irrep(SO2, 3))
    assert [(p.id, m) for p, m in zip(d.irreps, d.multiplicities)] == [((1,), 1), ((5,), 1)]
    d = decompose(Irrep(O2, 1, 2) * Irrep(O2, 1, 2))
    assert [(p.id, m) for p, m in zip(d.irreps, d.multiplicities)] == [((0, 0), 1), ((1, 0), 1), ((1, 4), 1)]


def test_decompose_refuses_non_orthogonal_and_non_planar():
    A = np.array([[1.0, 1.0], [0.0, 1.0]])
    skew = Permutation(cyclic(2), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="cyclic\\(n\\), dihedral\\(n\\), SO\\(2\\) or O\\(2\\)"):
        decompose(Standard(groups.symmetric(3)))
    with pytest.raises(TypeError, match="rep"):
        decompose(A)
    assert decompose(skew).multiplicities == (1, 1)


@pytest.mark.parametrize("G", [cyclic(6), dihedral(4), dihedral(6)], ids=lambda G: G.name)
def test_quotient(G):
    np.testing.assert_array_equal(Quotient(G, [0]).matrices, Regular(G).matrices)
    assert Quotient(G, np.arange(G.order)).matrices.tolist() == [[[1.0]]] * G.order
    H = G.subgroup([G.order // 2]) if G.name[0] == "D" else G.subgroup([2])
    Qr = Quotient(G, H)
    assert Qr.dim == G.order // H.group.order
    m = Qr.matrices
    np.testing.assert_array_equal(np.einsum("aij,bjk->abik", m, m), m[G.cayley_table])
    assert Qr == Quotient(G, H.elements.tolist()) and Qr != Permutation(G, np.asarray(Qr.perms))
    assert repr(Qr).endswith(f"(Q{Qr.dim})")
    d = decompose(Qr)  # Frobenius reciprocity: the multiplicity of psi is dim of psi's H-invariants
    for psi, mult in zip(d.irreps, d.multiplicities):
        fixed = psi.matrices[H.elements].mean(0)
        assert mult == round(np.trace(fixed))


def test_quotient_errors():
    with pytest.raises(ValueError, match="closed"):
        Quotient(cyclic(6), [0, 1])
    with pytest.raises(TypeError, match="group"):
        Quotient(SO2, [0])


@pytest.mark.parametrize("parent,child", [
    (dihedral(8), cyclic(8)), (dihedral(8), cyclic(4)), (cyclic(8), cyclic(2)), (dihedral(8), dihedral(2)),
    (dihedral(6), dihedral(3)), (cyclic(6), cyclic(1)),
], ids=lambda G: G.name)
def test_restrict_planar(parent, child):
    for psi in irreps(parent):
        r = restrict(psi, child)
        assert isinstance(r, Restricted) and r.group == child and r.dim == psi.dim
        m = r.matrices
        np.testing.assert_allclose(np.einsum("aij,bjk->abik", m, m), m[child.cayley_table], atol=1e-12)
        d = decompose(r)
        assert sum(mu * p.dim for p, mu in zip(d.irreps, d.multiplicities)) == psi.dim


def test_restrict_values():
    r = restrict(Irrep(dihedral(8), 1, 3), cyclic(4))
    np.testing.assert_array_equal(r.matrices, Irrep(dihedral(8), 1, 3).matrices[[0, 2, 4, 6]])
    r = restrict(Irrep(dihedral(8), 1, 1), dihedral(2))
    np.testing.assert_array_equal(r.matrices, Irrep(dihedral(8), 1, 1).matrices[[0, 4, 8, 12]])
    r = restrict(Regular(dihedral(4)), cyclic(4))
    assert [(p.id, m) for p, m in zip(decompose(r).irreps, decompose(r).multiplicities)] == [
        ((0,), 2), ((1,), 2), ((2,), 2)]


def test_restrict_lie():
    psi = Irrep(O2, 1, 2)
    r = restrict(psi, SO2)
    g = _samples(SO2)
    np.testing.assert_allclose(np.asarray(r._build(g, np)), np.asarray(Irrep(SO2, 2)._build(g, np)), atol=1e-12)
    assert equivariant_basis(r, Irrep(SO2, 2)).shape[0] == 2
    np.testing.assert_allclose(restrict(psi, dihedral(8)).matrices, Irrep(dihedral(8), 1, 2).matrices, atol=1e-12)
    np.testing.assert_allclose(restrict(Irrep(SO2, 3), cyclic(8)).matrices, Irrep(cyclic(8), 3).matrices, atol=1e-12)


def test_restrict_subgroup_and_errors():
    D4 = dihedral(4)
    H = D4.subgroup([1])
    r = restrict(Standard(D4), H)
    np.testing.assert_array_equal(r.matrices, D4.matrices[:4])
    assert restrict(Standard(D4), D4) == Standard(D4)
    with pytest.raises(ValueError, match="not a subgroup"):
        restrict(Irrep(cyclic(8), 1), dihedral(8))
    with pytest.raises(ValueError, match="not a subgroup"):
        restrict(Irrep(cyclic(8), 1), cyclic(3))
    with pytest.raises(ValueError, match="not a subgroup"):
        restrict(Irrep(dihedral(8), 1, 1), SO2)
    with pytest.raises(ValueError, match="Subgroup of rep.group"):
        restrict(Standard(D4), cyclic(8).subgroup([2]))
    with pytest.raises(TypeError, match="subgroup"):
        restrict(Standard(D4), [0, 1])


# -- argument errors -------------------------------------------------------------------------------

def test_irrep_errors():
    with pytest.raises(ValueError, match="0 <= k <= n // 2 = 2, got k = 3"):
        Irrep(cyclic(4), 3)
    with pytest.raises(ValueError, match="k >= 0, got k = -1"):
        Irrep(SO2, -1)
    with pytest.raises(TypeError, match="Irrep\\(G, j, k\\)"):
        Irrep(dihedral(4), 1)
    with pytest.raises(TypeError, match="Irrep\\(G, k\\)"):
        Irrep(cyclic(4), 1, 1)
    with pytest.raises(ValueError, match="j in \\{0, 1\\}, got j = 2"):
        Irrep(O2, 2, 1)
    with pytest.raises(ValueError, match="only with j = 1"):
        Irrep(O2, 0, 1)
    with pytest.raises(TypeError, match="integer k"):
        Irrep(cyclic(4), 1.0)
    with pytest.raises(TypeError, match="integer j"):
        Irrep(dihedral(4), True, 0)
    with pytest.raises(ValueError, match="got S3"):
        Irrep(groups.symmetric(3), 0)
    with pytest.raises(ValueError, match="got SO\\(3\\)"):
        Irrep(SO(3), 0)
    with pytest.raises(TypeError, match="FiniteGroup or LieGroup, got int"):
        Irrep(4, 0)
    with pytest.raises(ValueError, match="got D4<"):
        Irrep(dihedral(4).subgroup([1, 4]).group, 0, 0)


def test_irreps_errors():
    with pytest.raises(ValueError, match="max_frequency"):
        irreps(SO2)
    with pytest.raises(ValueError, match="max_frequency >= 0"):
        irreps(cyclic(4), -1)
    assert irreps(cyclic(4), 10) == irreps(cyclic(4))
    with pytest.raises(ValueError, match="finite group"):
        fourier_decomposition(O2)


def test_decomposition_rep_is_direct_sum():
    F = fourier_decomposition(dihedral(3))
    assert isinstance(F.rep, DirectSum)
    assert F.rep.reps == (Irrep(dihedral(3), 0, 0), Irrep(dihedral(3), 1, 0), Irrep(dihedral(3), 1, 1),
                          Irrep(dihedral(3), 1, 1))
