"""nnx.export: plain flax.nnx.Conv models with the expanded kernels give the same outputs."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx as fnnx

from symjax import groups, nnx

D4, C4 = groups.dihedral(4), groups.cyclic(4)


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


class Net(fnnx.Module):
    """Convs as attributes, in an nnx.List (one of them shared), an nnx.Dict and a tuple; batch norm; a head."""

    def __init__(self, rngs):
        self.lift = nnx.LiftingConv(D4, 3, 4, rngs=rngs)
        shared = nnx.GroupConv(D4, 4, 4, rngs=rngs)
        self.blocks = fnnx.List([shared, nnx.GroupConv(D4, 4, 4, strides=2, rngs=rngs), shared])
        self.shared = shared
        self.named = fnnx.Dict({"valid": nnx.GroupConv(D4, 4, 5, padding="VALID", rngs=rngs)})
        self.pair = fnnx.data((nnx.GroupConv(D4, 5, 5, kernel_size=1, use_bias=False, rngs=rngs),))
        self.norm = nnx.GroupBatchNorm(5, rngs=rngs)
        self.head = fnnx.Linear(5, 3, rngs=rngs)

    def __call__(self, x):
        f = fnnx.relu(self.lift(x))
        for block in self.blocks:
            f = fnnx.relu(block(f))
        f = self.norm(self.pair[0](self.named["valid"](f)))
        return f, self.head(nnx.GroupPool()(f).mean(axis=(1, 2)))


def test_same_outputs_plain_convs_original_untouched():
    net = Net(fnnx.Rngs(0))
    before = jax.tree.map(jnp.copy, fnnx.state(net, fnnx.Param))
    plain = nnx.export(net)
    x = normal(1, (2, 11, 11, 3))
    (f, logits), (pf, plogits) = net(x), plain(x)
    assert pf.shape == f.shape[:-2] + (5 * 8,)  # the group feature map output is flattened
    np.testing.assert_allclose(pf, f.reshape(pf.shape), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(plogits, logits, rtol=1e-5, atol=1e-5)
    kinds = {type(node).__name__ for _, node in fnnx.iter_graph(plain)}
    assert {"PlainConv", "Conv"} <= kinds and not kinds & {"LiftingConv", "GroupConv"}
    assert plain.model.blocks[0] is plain.model.blocks[2] is plain.model.shared  # shared stays shared
    assert plain.model.lift.conv.kernel.shape == (3, 3, 3, 32)
    assert plain.model.named["valid"].conv.kernel.shape == (3, 3, 32, 40)
    assert plain.model.pair[0].conv.bias is None
    kinds = {type(node).__name__ for _, node in fnnx.iter_graph(net)}
    assert "GroupConv" in kinds and "PlainConv" not in kinds
    jax.tree.map(np.testing.assert_array_equal, fnnx.state(net, fnnx.Param), before)


def test_train_and_eval_modes_and_jit():
    net = Net(fnnx.Rngs(0))
    plain = nnx.export(net)
    x = normal(2, (4, 11, 11, 3))
    net.train(), plain.train()
    (_, logits), (_, plogits) = net(x), plain(x)  # updates the batch statistics on both
    np.testing.assert_allclose(plogits, logits, rtol=1e-5, atol=1e-5)
    net.eval(), plain.eval()
    (_, logits), (_, plogits) = net(x), fnnx.jit(lambda m, x: m(x))(plain, x)
    np.testing.assert_allclose(plogits, logits, rtol=1e-5, atol=1e-5)


def test_single_layer_and_c4():
    lift = nnx.LiftingConv(C4, 2, 3, strides=2, rngs=fnnx.Rngs(1))
    x = normal(3, (1, 9, 9, 2))
    plain = nnx.export(lift)
    np.testing.assert_allclose(plain(x), lift(x).reshape(1, 5, 5, 12), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(plain.model(x), lift(x), rtol=1e-5, atol=1e-5)  # the converted layer itself


def test_bad_input():
    with pytest.raises(TypeError, match="flax.nnx.Module"):
        nnx.export({"kernel": jnp.ones(3)})
    with pytest.raises(TypeError, match="LiftingConv or GroupConv"):
        nnx.PlainConv(fnnx.Linear(2, 2, rngs=fnnx.Rngs(0)))
    plain = nnx.export(nnx.GroupConv(D4, 2, 2, rngs=fnnx.Rngs(0)))
    with pytest.raises(ValueError, match="GroupConv"):
        plain(jnp.ones((1, 5, 5, 2, 4)))  # a C4 map into a D4 layer
