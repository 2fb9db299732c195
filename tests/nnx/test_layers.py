"""NNX layers: equivariance, agreement with Linen and functional, batch-norm modes, bad input."""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx as fnnx

from symjax import EquivarianceWarning, actions, geometry, groups, symmetry
from symjax import functional as F
from symjax import nn, nnx

EXACT = geometry.exact_groups()
TOL = 1e-5


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def equivariance_err(f, G, x, act_in, act_out):
    """``symmetry.equivariance_error`` (max over all elements, vmapped), in one jit."""
    return float(jax.jit(lambda x: symmetry.equivariance_error(f, G, x, act_in, act_out))(x))


class Block(fnnx.Module):
    def __init__(self, G, strides, rngs):
        self.lift = nnx.LiftingConv(G, 2, 3, rngs=rngs)
        self.conv = nnx.GroupConv(G, 3, 2, strides=strides, rngs=rngs)
        self.bn = nnx.GroupBatchNorm(2, rngs=rngs)
        self.pool = nnx.GroupPool("mean")

    def __call__(self, x):
        return self.bn(self.conv(jax.nn.relu(self.lift(x))))


@pytest.mark.parametrize("G,size,strides", [(G, s, 1) for G in EXACT for s in (7, 8)] + [(groups.dihedral(4), 9, 2)],
                         ids=[f"{G.name}-{s}" for G in EXACT for s in (7, 8)] + ["D4-9-stride2"])
def test_nnx_layers_equivariant_train_and_eval(G, size, strides):
    block = Block(G, strides, fnnx.Rngs(0))
    x = normal(0, (2, size, size, 2))
    graphdef, state = fnnx.split(block)

    def run(x):  # a fresh copy per call, so training-mode statistics updates do not leak
        return fnnx.merge(graphdef, state, copy=True)(x)

    assert equivariance_err(run, G, x, actions.on_image, actions.on_group_image) <= TOL  # training mode
    block.eval()
    graphdef, state = fnnx.split(block)
    assert equivariance_err(run, G, x, actions.on_image, actions.on_group_image) <= TOL
    pooled = lambda x: block.pool(run(x))  # noqa: E731
    assert equivariance_err(pooled, G, x, actions.on_image, actions.on_image) <= TOL


def test_nnx_linen_functional_agree_for_same_weights():
    G = groups.dihedral(4)
    x = normal(1, (2, 7, 7, 3))
    lift = nnx.LiftingConv(G, 3, 4, padding=1, rngs=fnnx.Rngs(0))
    conv = nnx.GroupConv(G, 4, 2, kernel_size=5, strides=2, rngs=fnnx.Rngs(1))
    f = lift(x)
    y = conv(f)
    np.testing.assert_array_equal(f, F.lifting_conv(x, lift.kernel[...], G, padding=1, bias=lift.bias[...]))
    linen_f = nn.LiftingConv(G, 4, padding=1).apply(
        {"params": {"kernel": lift.kernel[...], "bias": lift.bias[...]}}, x)
    linen_y = nn.GroupConv(G, 2, kernel_size=5, strides=2).apply(
        {"params": {"kernel": conv.kernel[...], "bias": conv.bias[...]}}, f)
    np.testing.assert_array_equal(f, linen_f)
    np.testing.assert_array_equal(y, linen_y)
    s = normal(2, (2, 5, 3))
    set_layer = nnx.SetLinear(3, 4, rngs=fnnx.Rngs(0))
    params = {"lam": set_layer.lam[...], "gam": set_layer.gam[...], "bias": set_layer.bias[...]}
    np.testing.assert_allclose(set_layer(s), nn.SetLinear(4).apply({"params": params}, s), rtol=1e-6)
    np.testing.assert_array_equal(nnx.SetPool("max")(s), nn.SetPool("max").apply({}, s))


def test_nnx_batch_norm_matches_linen_and_switches_mode():
    f = normal(3, (4, 5, 5, 3, 8)) * 2.0 + 1.0
    bn = nnx.GroupBatchNorm(3, momentum=0.9, rngs=fnnx.Rngs(0))
    linen = nn.GroupBatchNorm(momentum=0.9)
    variables = linen.init(jax.random.key(0), f, use_running_average=True)
    y_linen, state = linen.apply(variables, f, use_running_average=False, mutable=["batch_stats"])
    np.testing.assert_allclose(bn(f), y_linen, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.mean[...], state["batch_stats"]["mean"], rtol=1e-6)
    bn.eval()
    assert bn.use_running_average
    mean = bn.mean[...]
    bn(f)
    np.testing.assert_array_equal(bn.mean[...], mean)


def test_nnx_works_under_nnx_jit_and_grad():
    G = groups.cyclic(4)
    model = nnx.GroupConv(G, 2, 2, rngs=fnnx.Rngs(0))
    f = normal(4, (1, 5, 5, 2, 4))
    loss = lambda m: jnp.sum(m(f) ** 2)  # noqa: E731
    grads = fnnx.jit(fnnx.grad(loss))(model)
    assert grads["kernel"][...].shape == (3, 3, 2, 4, 2)


def test_bad_input():
    G = groups.dihedral(4)
    rngs = fnnx.Rngs(0)
    with pytest.raises(ValueError, match=r"\|G\| = 8.*got 4"):
        nnx.GroupConv(G, 2, 2, rngs=rngs)(jnp.ones((1, 5, 5, 2, 4)))
    with pytest.raises(ValueError, match="rank 4"):
        nnx.LiftingConv(G, 2, 2, rngs=rngs)(jnp.ones((5, 5, 2)))
    with pytest.raises(ValueError, match="group = S3"):  # no 2x2 matrices (C3 is accepted: approximate)
        nnx.LiftingConv(groups.symmetric(3), 2, 2, rngs=rngs)
    with pytest.raises(ValueError, match="padding"):
        nnx.GroupConv(G, 2, 2, padding="FULL", rngs=rngs)
    with pytest.raises(ValueError, match="reduce"):
        nnx.GroupPool("min")
    with pytest.raises(ValueError, match="reduce"):
        nnx.SetPool("median")
    with pytest.raises(ValueError, match=r"\(N, \.\.\., 3, \|G\|\)"):
        nnx.GroupBatchNorm(3, rngs=rngs)(jnp.ones((2, 5, 5, 4, 8)))


def test_conv_layers_warn_or_raise_when_they_cannot_be_equivariant():
    G, rngs = groups.cyclic(4), fnnx.Rngs(0)
    conv = nnx.GroupConv(G, 2, 2, strides=2, rngs=rngs)
    assert conv.strict is False and nnx.GroupConv(G, 2, 2, strict=True, rngs=rngs).strict
    with pytest.warns(EquivarianceWarning, match="stride 2"):
        conv(jnp.ones((1, 8, 8, 2, 4)))
    with pytest.raises(ValueError, match="even kernel.*strict=True"):
        nnx.LiftingConv(G, 1, 2, kernel_size=4, strict=True, rngs=rngs)(jnp.ones((1, 9, 9, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nnx.LiftingConv(G, 1, 2, kernel_size=4, padding="VALID", strict=True, rngs=rngs)(jnp.ones((1, 9, 9, 1)))


def test_empty_batch_zero_features_and_layouts_without_a_group_axis():
    G, rngs = groups.cyclic(4), fnnx.Rngs(0)
    f = nnx.LiftingConv(G, 2, 3, rngs=rngs)(jnp.zeros((0, 9, 9, 2)))
    assert f.shape == (0, 9, 9, 3, 4)
    assert nnx.GroupConv(G, 3, 2, strides=3, rngs=rngs)(f).shape == (0, 3, 3, 2, 4)
    with pytest.raises(ValueError, match="GroupConv expects out_features"):
        nnx.GroupConv(G, 3, 0, rngs=rngs)
    with pytest.raises(ValueError, match="LiftingConv expects in_features"):
        nnx.LiftingConv(G, 0, 3, rngs=rngs)
    with pytest.raises(ValueError, match="SetLinear expects out_features"):
        nnx.SetLinear(3, 0, rngs=rngs)
    image = jnp.ones((2, 9, 9, 4))
    with pytest.raises(ValueError, match=r"GroupPool expects group feature maps f .*rank >= 5"):
        nnx.GroupPool()(image)
    with pytest.raises(ValueError, match=r"\|G\| = 4"):
        nnx.GroupPool(group=G)(jnp.ones((2, 9, 9, 3, 8)))
    with pytest.raises(ValueError, match=r"GroupBatchNorm expects group feature maps .*an image"):
        nnx.GroupBatchNorm(9, rngs=rngs)(image)
