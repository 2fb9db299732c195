"""Linen layers: equivariance, agreement with functional, collections, initialisation, bad input."""
import time
import warnings

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax import EquivarianceWarning, actions, geometry, groups, symmetry
from symjax import functional as F
from symjax import nn

EXACT = geometry.exact_groups()
IDS = [G.name for G in EXACT]
TOL = 1e-5


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def equivariance_err(f, G, x, act_in, act_out):
    """``symmetry.equivariance_error`` (max over all elements, vmapped), in one jit."""
    return float(jax.jit(lambda x: symmetry.equivariance_error(f, G, x, act_in, act_out))(x))


class Block(fnn.Module):
    """Lifting conv, then group conv, group batch norm and ReLU: one of each equivariant layer."""
    group: groups.FiniteGroup
    strides: int = 1

    @fnn.compact
    def __call__(self, x, train: bool = False):
        f = fnn.relu(nn.LiftingConv(self.group, 3)(x))
        f = nn.GroupConv(self.group, 2, strides=self.strides)(f)
        return fnn.relu(nn.GroupBatchNorm(use_running_average=not train)(f))


@pytest.mark.parametrize("G,size,strides", [(G, s, 1) for G in EXACT for s in (7, 8)]
                         + [(groups.cyclic(4), 9, 2), (groups.dihedral(4), 9, 2)],
                         ids=[f"{G.name}-{s}" for G in EXACT for s in (7, 8)] + ["C4-9-stride2", "D4-9-stride2"])
def test_linen_layers_equivariant(G, size, strides):
    x = normal(0, (2, size, size, 2))
    block = Block(G, strides)
    variables = block.init(jax.random.key(0), x)
    eval_fn = lambda x: block.apply(variables, x)  # noqa: E731
    train_fn = lambda x: block.apply(variables, x, train=True, mutable=["batch_stats"])[0]  # noqa: E731
    assert equivariance_err(eval_fn, G, x, actions.on_image, actions.on_group_image) <= TOL
    assert equivariance_err(train_fn, G, x, actions.on_image, actions.on_group_image) <= TOL
    pool = lambda x: nn.GroupPool().apply({}, eval_fn(x))  # noqa: E731
    assert equivariance_err(pool, G, x, actions.on_image, actions.on_image) <= TOL


def test_eager_call_equivariant():
    G = groups.dihedral(4)
    layer = nn.GroupConv(G, 2)
    f = normal(1, (1, 7, 7, 3, 8))
    variables = layer.init(jax.random.key(0), f)
    y = layer.apply(variables, f)
    np.testing.assert_allclose(layer.apply(variables, actions.on_group_image(G, 6, f)),
                               actions.on_group_image(G, 6, y), atol=1e-5 * float(jnp.abs(y).max()))


def test_linen_matches_functional_and_creates_only_params():
    G = groups.cyclic(4)
    x = normal(2, (2, 7, 7, 3))
    lift, conv = nn.LiftingConv(G, 4, padding="VALID"), nn.GroupConv(G, 5, kernel_size=5, strides=2)
    v1 = lift.init(jax.random.key(0), x)
    f = lift.apply(v1, x)
    v2 = conv.init(jax.random.key(1), f)
    assert set(v1) == {"params"} and set(v2) == {"params"}
    p1, p2 = v1["params"], v2["params"]
    assert p1["kernel"].shape == (3, 3, 3, 4) and p2["kernel"].shape == (5, 5, 4, 4, 5) and p2["bias"].shape == (5,)
    np.testing.assert_array_equal(f, F.lifting_conv(x, p1["kernel"], G, padding="VALID", bias=p1["bias"]))
    np.testing.assert_array_equal(conv.apply(v2, f),
                                  F.group_conv(f, p2["kernel"], G, strides=2, bias=p2["bias"]))
    bn_vars = nn.GroupBatchNorm().init(jax.random.key(0), f, use_running_average=False)
    assert set(bn_vars) == {"params", "batch_stats"}
    grads = jax.grad(lambda p: jnp.sum(lift.apply({"params": p}, x) ** 2))(p1)
    assert jax.tree.structure(grads) == jax.tree.structure(p1)


def test_group_batch_norm_statistics_over_batch_space_and_group():
    f = normal(3, (4, 5, 5, 3, 8)) * 3.0 + 1.0
    bn = nn.GroupBatchNorm(use_running_average=False, momentum=0.5)
    variables = bn.init(jax.random.key(0), f)
    y, updates = bn.apply(variables, f, mutable=["batch_stats"])
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2, 4)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(0, 1, 2, 4)), 1.0, atol=1e-3)
    np.testing.assert_allclose(updates["batch_stats"]["mean"], 0.5 * f.mean(axis=(0, 1, 2, 4)), rtol=1e-5)


def test_set_layers_permutation_equivariant():
    x = normal(4, (2, 6, 3))
    layer = nn.SetLinear(4)
    variables = layer.init(jax.random.key(0), x)
    assert set(variables["params"]) == {"lam", "gam", "bias"}
    perm = jnp.array([2, 0, 1, 5, 3, 4])
    y = layer.apply(variables, x)
    np.testing.assert_allclose(layer.apply(variables, actions.on_set(perm, x)), actions.on_set(perm, y), atol=1e-5)
    np.testing.assert_allclose(nn.SetPool("sum").apply({}, actions.on_set(perm, y)),
                               nn.SetPool("sum").apply({}, y), rtol=1e-5, atol=1e-5)


class DeepNet(fnn.Module):
    """ReLU p4m net returning the RMS of every layer's activations."""
    depth: int = 10
    features: int = 8
    padding: str = "VALID"

    @fnn.compact
    def __call__(self, x):
        G = groups.dihedral(4)
        f = fnn.relu(nn.LiftingConv(G, self.features, padding=self.padding)(x))
        scales = [jnp.sqrt(jnp.mean(f ** 2))]
        for _ in range(self.depth - 1):
            f = fnn.relu(nn.GroupConv(G, self.features, padding=self.padding)(f))
            scales.append(jnp.sqrt(jnp.mean(f ** 2)))
        return jnp.stack(scales)


class PlainNet(fnn.Module):
    depth: int = 7
    features: int = 16

    @fnn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            x = fnn.relu(fnn.Conv(self.features, (3, 3))(x))
        return x


def test_default_init_keeps_ten_layer_p4m_activations_order_one():
    x = normal(5, (4, 21, 21, 3))  # VALID padding down to 1x1: no border effects
    net = DeepNet()
    rms = np.asarray(jax.jit(lambda x: net.apply(net.init(jax.random.key(0), x), x))(x))
    assert np.all((rms > 0.3) & (rms < 3.0)), rms


def build_seconds(model, x):
    start = time.perf_counter()
    jax.block_until_ready(jax.jit(model.init)(jax.random.key(0), x))
    return time.perf_counter() - start


def test_p4m_net_builds_about_as_fast_as_a_plain_conv_net():
    x = jnp.ones((2, 9, 9, 1))
    build_seconds(PlainNet(depth=1), x)  # warm up the PRNG and compiler
    plain = build_seconds(PlainNet(depth=7, features=16), x)
    p4m = build_seconds(DeepNet(depth=7, features=2, padding="SAME"), x)
    assert p4m < 3 * plain + 0.5, (p4m, plain)


def test_group_is_a_hashable_module_attribute():
    a, b = nn.GroupConv(groups.dihedral(4), 3), nn.GroupConv(groups.dihedral(4), 3)
    assert hash(a.group) == hash(b.group) and a.group == b.group


def test_dtype_and_param_dtype():
    layer = nn.LiftingConv(groups.cyclic(4), 2, dtype=jnp.bfloat16, param_dtype=jnp.float32)
    x = jnp.ones((1, 5, 5, 1))
    variables = layer.init(jax.random.key(0), x)
    assert variables["params"]["kernel"].dtype == jnp.float32
    assert layer.apply(variables, x).dtype == jnp.bfloat16


def test_bad_input():
    G = groups.dihedral(4)
    with pytest.raises(ValueError, match=r"\|G\| = 8.*got 4"):
        nn.GroupConv(G, 2).init(jax.random.key(0), jnp.ones((1, 5, 5, 2, 4)))
    with pytest.raises(ValueError, match="rank 5"):
        nn.GroupConv(G, 2).init(jax.random.key(0), jnp.ones((5, 5, 2, 8)))
    with pytest.raises(ValueError, match="rank 4"):
        nn.LiftingConv(G, 2).init(jax.random.key(0), jnp.ones((1, 1, 5, 5, 2)))
    with pytest.raises(ValueError, match="group = S3"):  # no 2x2 matrices (C8 is accepted: approximate)
        nn.LiftingConv(groups.symmetric(3), 2).init(jax.random.key(0), jnp.ones((1, 5, 5, 2)))
    with pytest.raises(ValueError, match="padding"):
        nn.LiftingConv(G, 2, padding="CIRCLE").init(jax.random.key(0), jnp.ones((1, 5, 5, 2)))
    with pytest.raises(ValueError, match="reduce"):
        nn.GroupPool("min").apply({}, jnp.ones((1, 5, 5, 2, 8)))
    with pytest.raises(ValueError, match="GroupBatchNorm"):
        nn.GroupBatchNorm(use_running_average=True).init(jax.random.key(0), jnp.ones((8,)))


def test_conv_layers_warn_or_raise_when_they_cannot_be_equivariant():
    G, f = groups.cyclic(4), jnp.ones((1, 8, 8, 2, 4))
    with pytest.warns(EquivarianceWarning, match="GroupConv|group_conv"):
        nn.GroupConv(G, 2, strides=2).init(jax.random.key(0), f)
    with pytest.raises(ValueError, match="stride 2.*strict=True"):
        nn.GroupConv(G, 2, strides=2, strict=True).init(jax.random.key(0), f)
    with pytest.raises(ValueError, match="9x11, not square"):
        nn.LiftingConv(G, 2, strict=True).init(jax.random.key(0), jnp.ones((1, 9, 11, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.GroupConv(G, 2, strides=2, strict=True).init(jax.random.key(0), jnp.ones((1, 9, 9, 2, 4)))


def test_empty_batch_zero_features_and_layouts_without_a_group_axis():
    G = groups.cyclic(4)
    x = jnp.zeros((0, 9, 9, 2))
    lift = nn.LiftingConv(G, 3)
    variables = lift.init(jax.random.key(0), x)
    f = lift.apply(variables, x)
    assert f.shape == (0, 9, 9, 3, 4)  # as flax.linen.Conv, which returns (0, 9, 9, 12)
    conv = nn.GroupConv(G, 2, strides=3)
    assert conv.apply(conv.init(jax.random.key(1), f), f).shape == (0, 3, 3, 2, 4)
    with pytest.raises(ValueError, match=r"LiftingConv expects out_features \(features in symjax.nn\)"):
        nn.LiftingConv(G, 0).init(jax.random.key(0), jnp.ones((1, 9, 9, 2)))
    with pytest.raises(ValueError, match="SetLinear expects out_features"):
        nn.SetLinear(0).init(jax.random.key(0), jnp.ones((2, 5, 3)))
    image = jnp.ones((2, 9, 9, 4))
    with pytest.raises(ValueError, match=r"GroupPool expects group feature maps f .*rank >= 5.*an image"):
        nn.GroupPool().apply({}, image)
    with pytest.raises(ValueError, match=r"GroupPool expects the last axis of f to have size \|G\| = 4"):
        nn.GroupPool(group=G).apply({}, jnp.ones((2, 9, 9, 3, 8)))
    assert nn.GroupPool(group=G).apply({}, jnp.ones((2, 9, 9, 3, 4))).shape == (2, 9, 9, 3)
    with pytest.raises(ValueError, match=r"GroupBatchNorm expects group feature maps .*an image"):
        nn.GroupBatchNorm(use_running_average=False).init(jax.random.key(0), image)
