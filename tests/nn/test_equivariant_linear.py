"""EquivariantLinear in Linen and NNX: parameters, identical outputs, equivariance under jit, bad input."""
import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx as fnnx

from symjax import groups
from symjax.groups._reps import Regular, Standard, Trivial, equivariant_basis
from symjax.nn._equivariant_linear import EquivariantLinear as LinenEquivariantLinear
from symjax.nnx._equivariant_linear import EquivariantLinear as NNXEquivariantLinear

O3, D4 = groups.O(3), groups.dihedral(4)
V, S = Standard(O3), Trivial(O3)


def test_parameters():
    layer = LinenEquivariantLinear(2 * V + S, V * V + S)
    variables = layer.init(jax.random.key(0), jnp.ones((1, 7)))
    assert set(variables) == {"params"}
    assert variables["params"]["coeffs"].shape == (len(equivariant_basis(2 * V + S, V * V + S)),)
    assert variables["params"]["bias"].shape == (2,)  # the identity of V x V and the scalar
    no_bias = LinenEquivariantLinear(V, 2 * V).init(jax.random.key(0), jnp.ones((1, 3)))["params"]
    assert set(no_bias) == {"coeffs"}  # a vector has no invariant direction
    off = LinenEquivariantLinear(S, S, use_bias=False).init(jax.random.key(0), jnp.ones((1, 1)))["params"]
    assert set(off) == {"coeffs"}
    nnx_layer = NNXEquivariantLinear(2 * V + S, V * V + S, rngs=fnnx.Rngs(0))
    assert nnx_layer.coeffs.shape == variables["params"]["coeffs"].shape and nnx_layer.bias.shape == (2,)
    assert NNXEquivariantLinear(V, 2 * V, rngs=fnnx.Rngs(0)).bias is None
    assert NNXEquivariantLinear(S, S, use_bias=False, rngs=fnnx.Rngs(0)).bias is None


@pytest.mark.parametrize("rep_in, rep_out", [(2 * V + S, V * V + S), (Regular(D4), Regular(D4) + Trivial(D4))],
                         ids=repr)
def test_linen_and_nnx_agree(rep_in, rep_out):
    x = jax.random.normal(jax.random.key(0), (4, rep_in.dim))
    linen = LinenEquivariantLinear(rep_in, rep_out)
    variables = linen.init(jax.random.key(1), x)
    params = jax.tree.map(lambda p: p + jax.random.normal(jax.random.key(2), p.shape), variables["params"])
    layer = NNXEquivariantLinear(rep_in, rep_out, rngs=fnnx.Rngs(3))
    layer.coeffs[...] = params["coeffs"]
    layer.bias[...] = params["bias"]
    np.testing.assert_allclose(layer(x), linen.apply({"params": params}, x), atol=1e-6)


def test_equivariant_under_jit_for_sampled_rotations():
    rep_in, rep_out = V * V + 2 * V + S, 3 * V + S
    linen = LinenEquivariantLinear(rep_in, rep_out)
    x = jax.random.normal(jax.random.key(0), (6, rep_in.dim))
    variables = linen.init(jax.random.key(1), x)
    variables = {"params": jax.tree.map(lambda p: p + 1.0, variables["params"])}  # a non-zero bias
    nnx_layer = NNXEquivariantLinear(rep_in, rep_out, rngs=fnnx.Rngs(0))
    nnx_layer.bias[...] = jnp.ones_like(nnx_layer.bias[...])
    R = O3.sample(jax.random.key(2), (5,))
    r_in, r_out = rep_in.rho(R), rep_out.rho(R)
    moved = jnp.einsum("gij,nj->gni", r_in, x)
    nnx_apply = fnnx.jit(lambda m, x: m(x))
    for f in (jax.jit(lambda x: linen.apply(variables, x)), lambda x: nnx_apply(nnx_layer, x)):
        np.testing.assert_allclose(f(moved), jnp.einsum("gij,nj->gni", r_out, f(x)), atol=1e-5, rtol=1e-5)


def test_equivariant_for_every_element_of_a_finite_group():
    rep_in, rep_out = Regular(D4) + Standard(D4), Standard(D4) * Standard(D4) + Trivial(D4)
    layer = NNXEquivariantLinear(rep_in, rep_out, rngs=fnnx.Rngs(0))
    layer.bias[...] = jnp.full_like(layer.bias[...], 0.5)
    x = jax.random.normal(jax.random.key(0), (3, rep_in.dim))
    g = jnp.arange(D4.order)
    moved = jnp.einsum("gij,nj->gni", rep_in.rho(g), x)
    np.testing.assert_allclose(layer(moved), jnp.einsum("gij,nj->gni", rep_out.rho(g), layer(x)), atol=1e-5)


def test_grad_and_composition_in_a_linen_model():
    class Net(fnn.Module):
        @fnn.compact
        def __call__(self, x):
            h = LinenEquivariantLinear(V, 4 * V + 2 * S)(x)
            return LinenEquivariantLinear(4 * V + 2 * S, S)(h)

    x = jnp.ones((2, 3))
    variables = Net().init(jax.random.key(0), x)
    grads = jax.grad(lambda p: Net().apply({"params": p}, x).sum())(variables["params"])
    assert jax.tree.structure(grads) == jax.tree.structure(variables["params"])


def test_bad_input():
    with pytest.raises(ValueError, match="rep_in and rep_out must be representations of one group"):
        LinenEquivariantLinear(V, Standard(groups.SO(3))).init(jax.random.key(0), jnp.ones((1, 3)))
    with pytest.raises(ValueError, match="rep_in and rep_out must be representations of one group"):
        NNXEquivariantLinear(V, Standard(groups.SO(3)), rngs=fnnx.Rngs(0))
    with pytest.raises(TypeError, match="rep_in must be a symjax representation"):
        NNXEquivariantLinear(3, V, rngs=fnnx.Rngs(0))
    with pytest.raises(ValueError, match="x of shape \\(..., dim_in=3\\), got \\(1, 4\\)"):
        LinenEquivariantLinear(V, V).init(jax.random.key(0), jnp.ones((1, 4)))
    with pytest.raises(ValueError, match="x of shape \\(..., dim_in=3\\), got \\(4,\\)"):
        NNXEquivariantLinear(V, V, rngs=fnnx.Rngs(0))(jnp.ones(4))
