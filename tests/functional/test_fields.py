"""Nonlinearities, pooling and batch norms of feature fields: equivariance on C8, D8, D4 (with space), SO(2), O(2)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax import actions, groups
from symjax import functional as F

C8, D8, D4 = groups.cyclic(8), groups.dihedral(8), groups.dihedral(4)
SO2, O2 = groups.SO(2), groups.O(2)


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def fibre(rep, space=False):
    """The action of a finite group on field maps (N, H, W, rep.dim): rho(g) on the fibre; with space (D4), on the
    pixels too (every map here is pixelwise, so the fibre alone is the test; space checks the layout once)."""
    mats = jnp.asarray(rep.matrices, jnp.float32)

    def act(G, g, x):
        y = x @ mats[g].T
        return actions.on_image(G, g, y) if space else y
    return act


def lie_elements(G, n=6, seed=0):
    """``n`` random rotations (O(2): every other one times the reflection diag(-1, 1)), as matrices."""
    t = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    mats = np.stack([[[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]] for a in t])
    if G.kind == "O":
        mats[1::2] = mats[1::2] @ np.diag([-1.0, 1.0])
    return jnp.asarray(mats, jnp.float32)


def lie_error(f, rep_in, rep_out, x, G, n=6):
    """Largest relative error of f(rho_in(g) x) vs rho_out(g) f(x) over random elements of SO(2)/O(2), one jit."""
    mats = lie_elements(G, n)

    @jax.jit
    def error(x):
        y = f(x)
        diff = jax.vmap(lambda a, b: jnp.abs(f(x @ a.T) - y @ b.T).max())(rep_in.rho(mats), rep_out.rho(mats))
        return diff.max() / jnp.abs(y).max()
    return float(error(x))


IRREP_SUMS = [
    groups.Trivial(C8) + 2 * groups.Irrep(C8, 1) + groups.Irrep(C8, 3) + groups.Irrep(C8, 4),
    groups.Irrep(D4, 1, 1) + groups.Irrep(D4, 1, 0) + groups.Irrep(D4, 0, 2) + groups.Trivial(D4),
]
IRREP_IDS = ["C8", "D4-space"]


def test_field_types_and_layout():
    psi = groups.Irrep(C8, 1)
    rep = 3 * (groups.Trivial(C8) + psi)
    assert [f.dim for f in F.field_types(rep)] == [1, 2] * 3
    assert F.field_types(psi) == (psi,)
    with pytest.raises(TypeError, match="field_types expects rep"):
        F.field_types(C8)


def test_pointwise_nonlinearity_is_equivariant(equivariance):
    rep = 2 * groups.Regular(D4) + groups.Quotient(D4, [0, 4]) + groups.Trivial(D4)
    G = rep.group
    x = normal(0, (2, 5, 5, rep.dim))
    f = lambda x: F.pointwise_nonlinearity(x, rep, jax.nn.elu)  # noqa: E731
    assert jnp.array_equal(f(x), jax.nn.elu(x))
    assert equivariance.error(f, G, x, fibre(rep, True), fibre(rep, True)) < equivariance.TOL


def test_pointwise_nonlinearity_rejects_irreps():
    with pytest.raises(ValueError, match="field 1 of .* is Rep\\[D4\\]\\(ψ\\(1,0\\)\\)"):
        F.pointwise_nonlinearity(jnp.ones((1, 9)), groups.Regular(D4) + groups.Irrep(D4, 1, 0))
    with pytest.raises(ValueError, match=r"x of shape \(..., rep.dim\) = \(..., 8\)"):
        F.pointwise_nonlinearity(jnp.ones((1, 9)), groups.Regular(D4))


@pytest.mark.parametrize("rep", IRREP_SUMS, ids=IRREP_IDS)
def test_norm_nonlinearity_gate_and_norm_pool_are_equivariant(rep, equivariance):
    """One measure of four maps side by side: norm ReLU with bias, squash, norm pool, gates (n trivial + rep)."""
    G, n = rep.group, len(F.field_types(rep))
    gates = n * groups.Trivial(G) + rep
    assert F.gated_rep(gates) == rep
    bias = jnp.abs(normal(2, (n,)))

    def f(x):
        fields = x[..., n:]
        return jnp.concatenate([F.norm_nonlinearity(fields, rep, bias), F.norm_nonlinearity(fields, rep, None, "squash"),
                                F.norm_pool(fields, rep), F.gated_nonlinearity(x, gates, bias)], -1)
    x = normal(1, (2, 5, 5, gates.dim))
    out, space = rep + rep + n * groups.Trivial(G) + rep, G == D4
    assert equivariance.error(f, G, x, fibre(gates, space), fibre(out, space)) < equivariance.TOL


@pytest.mark.parametrize("G", [SO2, O2])
def test_norm_and_gated_nonlinearity_on_lie_groups(G):
    psi = groups.Irrep(G, 1) if G.kind == "SO" else groups.Irrep(G, 1, 1)
    rep = psi + groups.Trivial(G) + (groups.Irrep(G, 3) if G.kind == "SO" else groups.Irrep(G, 1, 0))
    gates = groups.Trivial(G) + rep + 2 * groups.Trivial(G)
    flags = (True, False, False, False, True, True)
    assert F.gated_rep(gates, flags) == rep

    def f(x):
        fields = x[..., 1:1 + rep.dim]
        return jnp.concatenate([F.norm_nonlinearity(fields, rep, jnp.full((3,), 0.5), "n_softplus"),
                                F.gated_nonlinearity(x, gates, gates=flags)], -1)
    x = normal(5, (2, 3, 3, gates.dim))
    assert lie_error(f, gates, rep + rep, x, G) < 1e-5
    kept = jax.jit(lambda x: F.gated_nonlinearity(x, gates, gates=flags, drop_gates=False)[..., 0])(x)
    assert jnp.allclose(kept, jax.nn.sigmoid(x[..., 0]))


def test_norm_nonlinearity_values_and_errors():
    psi = groups.Irrep(SO2, 2)
    x = jnp.array([[3.0, 4.0, 0.0, 0.0]])
    y, grad = jax.jit(lambda x: (F.norm_nonlinearity(x, 2 * psi, jnp.array([1.0, 1.0])),
                                 jax.grad(lambda x: F.norm_nonlinearity(x, 2 * psi).sum())(x)))(x)
    assert jnp.allclose(y, jnp.array([[2.4, 3.2, 0.0, 0.0]]))  # norm 5 -> relu(5 - 1) = 4; a zero field stays 0
    assert jnp.all(jnp.isfinite(grad))  # no NaN from the norm of the zero field
    with pytest.raises(ValueError, match="function in"):
        F.norm_nonlinearity(x, 2 * psi, function="relu")
    with pytest.raises(ValueError, match="squash' takes no bias"):
        F.norm_nonlinearity(x, 2 * psi, jnp.ones(2), "squash")
    with pytest.raises(ValueError, match=r"bias of shape \(n_fields,\) = \(2,\)"):
        F.norm_nonlinearity(x, 2 * psi, jnp.ones(3))


def test_gated_nonlinearity_errors():
    psi = groups.Irrep(C8, 1)
    with pytest.raises(ValueError, match="every gate to be a trivial field; field 0"):
        F.gated_nonlinearity(jnp.ones(4), psi + psi)
    with pytest.raises(ValueError, match="even number of fields"):
        F.gated_nonlinearity(jnp.ones(3), groups.Trivial(C8) + psi + psi)
    with pytest.raises(ValueError, match="as many gates as gated fields"):
        F.gated_rep(2 * groups.Trivial(C8) + psi, (True, True, False))


def test_field_pool_is_the_flat_group_pool(equivariance):
    x = normal(6, (2, 5, 5, 3 * 8))
    rep = 3 * groups.Regular(D4)
    ours, ref = jax.jit(lambda x: ([F.field_pool(x, rep, r) for r in ("max", "mean", "sum")],
                                   [F.group_pool(x.reshape(2, 5, 5, 3, 8), r) for r in ("max", "mean", "sum")]))(x)
    assert all(jnp.allclose(a, b, atol=1e-6) for a, b in zip(ours, ref))
    mixed = groups.Quotient(D4, [0, 4]) + groups.Regular(D4) + groups.Quotient(D4, [0, 4])
    xm = normal(7, (2, 5, 5, mixed.dim))
    pool = lambda x: F.field_pool(x, mixed)  # noqa: E731
    assert equivariance.error(pool, D4, xm, fibre(mixed), fibre(3 * groups.Trivial(D4))) < equivariance.TOL
    with pytest.raises(ValueError, match="use norm_pool for irreps"):
        F.field_pool(jnp.ones(2), groups.Irrep(C8, 1))


def test_fourier_pointwise_on_the_full_band_is_the_regular_pointwise(equivariance):
    """On C_n/D_n, Fourier coefficients x of a regular field Q x: fourier_pointwise(x) = Q^T relu(Q x), exactly.

    D8 has irreps of real type (2 copies each); the complex-type irreps of C_n/SO(2) (1 copy) are in the SO(2) test."""
    G = D8
    field = F.fourier_field(G)
    Q = jnp.asarray(groups.fourier_decomposition(G).change_of_basis, jnp.float32)
    band = F.fourier_field(G, 2)  # a band-limited field is exact on the finite group too
    rep = 2 * field + band
    x = normal(8, (2, 5, 5, rep.dim))
    split = 2 * field.dim

    def f(x):
        return jnp.concatenate([F.fourier_pointwise(x[..., :split], field), F.fourier_pointwise(x[..., split:], band,
                                                                                                  jax.nn.elu)], -1)
    y = jax.jit(f)(x)
    ref = (jax.nn.relu(x[..., :split].reshape(2, 5, 5, 2, -1) @ Q.T) @ Q).reshape(2, 5, 5, split)
    assert jnp.allclose(y[..., :split], ref, atol=1e-5)
    assert equivariance.error(f, G, x, fibre(rep), fibre(rep)) < equivariance.TOL


def test_fourier_pointwise_error_bound_on_so2():
    """The docstring's table: band 2, N = 16 has error <= 3.4e-2 (seeds 0-3, 16 rotations; the test takes 6 and
    asserts 5e-2, half again above the worst seed); N = 32 is about 4.5x smaller (measured 3.5-5.8x on seeds 0-3:
    asserted > 2.5x); rotations of the grid C_16 are exact."""
    field = F.fourier_field(SO2, 2)
    rep = 3 * field
    x = normal(10, (64, rep.dim))
    both = lambda x: jnp.concatenate([F.fourier_pointwise(x, field, samples=n) for n in (16, 32)], -1)  # noqa: E731
    mats = jnp.concatenate([lie_elements(SO2), jnp.asarray(groups.cyclic(16).matrices[[1, 5]], jnp.float32)])

    @jax.jit
    def errors(x):
        y = both(x)
        diff = jax.vmap(lambda R: jnp.abs(both(x @ R.T) - jnp.concatenate([y[:, :15] @ R.T, y[:, 15:] @ R.T], -1)
                                          ).reshape(64, 2, 15).max((0, 2)))(rep.rho(mats))
        return diff / jnp.abs(y).max()
    err = np.asarray(errors(x))
    e16, e32 = err[:6].max(0)
    assert 1e-3 < e16 < 5e-2 and e32 < e16 / 2.5
    assert err[6:, 0].max() < 1e-5  # rotations of the grid C_16: exact
    o2 = F.fourier_field(O2, 1)
    e_o2 = lie_error(lambda x: F.fourier_pointwise(x, o2, samples=16), 3 * o2, 3 * o2, normal(11, (64, 18)), O2)
    assert e_o2 < 1.5e-2  # the docstring: O(2) within 1.2x of SO(2)'s 8.6e-3 at band 1, N = 16


def test_fourier_pointwise_errors():
    with pytest.raises(ValueError, match="samples must be None"):
        F.fourier_pointwise(jnp.ones(8), F.fourier_field(C8), samples=8)
    with pytest.raises(ValueError, match="positive int, got None"):
        F.fourier_pointwise(jnp.ones(3), F.fourier_field(SO2, 1))
    with pytest.raises(ValueError, match="take more samples"):
        F.fourier_pointwise(jnp.ones(5), F.fourier_field(SO2, 2), samples=4)
    with pytest.raises(ValueError, match="more copies of"):
        F.fourier_pointwise(jnp.ones(4), groups.Irrep(SO2, 1) + groups.Irrep(SO2, 1), samples=8)
    with pytest.raises(ValueError, match=r"\(..., C \* field.dim\) with field.dim = 3"):
        F.fourier_pointwise(jnp.ones(4), F.fourier_field(SO2, 1), samples=8)


def init(layer, x, seed=0):
    """Parameters near their initial values (scales about 1, biases about 0) and fresh statistics, from NumPy."""
    n = layer.in_features(x)
    params = {s.name: (1.0 if s.name == "scale" else 0.0) + 0.3 * normal(seed + i, s.shape)
              for i, s in enumerate(layer.param_specs(n))}
    stats = {s.name: jnp.asarray(np.full(s.shape, 0.0 if s.name == "mean" else 1.0, np.float32))
             for s in layer.stat_specs(n)}
    return params, stats


def test_inner_batch_norm_is_group_batch_norm_on_regular_fields():
    rep = 3 * groups.Regular(C8)
    bn = F.FunctionalInnerBatchNorm(rep, momentum=0.5)
    base = F.FunctionalGroupBatchNorm(momentum=0.5)
    x = normal(12, (2, 5, 5, rep.dim)) + 1.0
    params, stats = init(bn, x)
    (y, new), (ref, ref_new) = jax.jit(lambda x: (
        bn.apply(params, stats, x, use_running_average=False),
        base.apply(params, stats, x.reshape(2, 5, 5, 3, 8), use_running_average=False)))(x)
    assert jnp.allclose(y, ref.reshape(x.shape), atol=1e-6)
    assert all(jnp.allclose(new[k], ref_new[k]) for k in ("mean", "var"))
    with pytest.raises(ValueError, match="use NormBatchNorm for irreps"):
        F.FunctionalInnerBatchNorm(groups.Irrep(C8, 1))


def test_inner_batch_norm_mixed_fields_is_equivariant(equivariance):
    rep = groups.Quotient(D4, [0, 4]) + 2 * groups.Regular(D4) + groups.Trivial(D4)
    bn = F.FunctionalInnerBatchNorm(rep)
    x = normal(13, (2, 5, 5, rep.dim)) + jnp.arange(rep.dim) / 10
    params, stats = init(bn, x)
    f = lambda x: bn.apply(params, stats, x, use_running_average=False)[0]  # noqa: E731
    assert equivariance.error(f, D4, x, fibre(rep), fibre(rep)) < equivariance.TOL
    y, new, none = jax.jit(lambda x: (*bn.apply({}, stats, x, use_running_average=False),
                                      bn.apply(params, stats, x, use_running_average=True)[1]))(x)
    field = np.asarray(y[..., 4:12])  # the first regular field: mean 0, variance 1 over batch, space and entries
    assert abs(field.mean()) < 1e-5 and abs(field.var() - 1) < 1e-3
    assert np.isclose(new["mean"][1], 0.01 * np.asarray(x[..., 4:12]).mean()) and none is None


def test_norm_batch_norm_is_equivariant_and_normalises(equivariance):
    rep = IRREP_SUMS[1]
    G = rep.group
    bn = F.FunctionalNormBatchNorm(rep, momentum=0.0)
    x = 3.0 * normal(14, (2, 5, 5, rep.dim)) + 2.0
    params, stats = init(bn, x)
    f = lambda x: bn.apply(params, stats, x, use_running_average=False)[0]  # noqa: E731
    assert equivariance.error(f, G, x, fibre(rep), fibre(rep)) < equivariance.TOL

    @jax.jit
    def plain(x):  # no scale, no bias; momentum 0: the running statistics are the batch's
        y, new = bn.apply({}, stats, x, use_running_average=False)
        return y, bn.apply({}, new, x, use_running_average=True)[0]
    y, y_run = plain(x)
    dims = np.array([f.dim for f in F.field_types(rep)])
    sq = np.add.reduceat(np.square(np.asarray(y)).mean((0, 1, 2)), np.cumsum([0, *dims[:-1]]))
    assert np.allclose(sq / dims, 1.0, atol=1e-3)  # every field: mean squared entry 1
    assert len(bn.trivial) == 1 and abs(float(y[..., np.cumsum([0, *dims])[bn.trivial[0]]].mean())) < 1e-5
    assert jnp.allclose(y_run, y, atol=1e-5)


def test_norm_batch_norm_on_so2_without_trivial_fields():
    rep = groups.Irrep(SO2, 1) + groups.Irrep(SO2, 2)
    bn = F.FunctionalNormBatchNorm(rep)
    assert [s.name for s in bn.param_specs(2)] == ["scale"] and [s.name for s in bn.stat_specs(2)] == ["var"]
    x = normal(15, (4, 3, 3, rep.dim)) + 1.0
    params, stats = init(bn, x)
    f = lambda x: bn.apply(params, stats, x, use_running_average=False)[0]  # noqa: E731
    assert lie_error(f, rep, rep, x, SO2) < 1e-5
    new = jax.jit(lambda x: bn.apply(params, stats, x, use_running_average=False)[1])(x)
    assert set(new) == {"var"} and new["var"].shape == (2,)
