"""Linen and NNX layers on volumes (the cube groups): equivariance on every element, export to plain Conv.

Small volumes (4x4x4, 2 channels, batch 2); each check covers all 24 (O) or 48 (O_h) elements in one jitted
vmap. The bound 1e-5 relative (max |difference| / max |output|) is the issue's: float rounding only.
"""
import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx as fnnx

from symjax import actions, groups, nn, nnx
from symjax import functional as F

O, OH = groups.octahedral(), groups.full_octahedral()


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def worst(G, apply, x, act_out):
    """max over g of |apply(T_g x) - T'_g apply(x)| / max |apply(x)|, one jitted vmap over the elements."""

    @jax.jit
    def errors(x):
        y = apply(x)
        moved = jax.vmap(lambda g: apply(actions.on_image(G, g, x)) - act_out(g, y))(jnp.arange(G.order))
        return jnp.max(jnp.abs(moved)) / jnp.max(jnp.abs(y))

    return float(errors(x))


class Net(fnn.Module):
    """Lift, batch norm, group conv, spatial and group pooling: the G-CNN of the 3D Tetris example, in small."""

    group: groups.FiniteGroup

    @fnn.compact
    def __call__(self, x, train: bool = False):
        f = nn.LiftingConv(self.group, 3, kernel_size=3)(x)
        f = fnn.relu(nn.GroupBatchNorm(use_running_average=not train)(f))
        f = F.spatial_pool(nn.GroupConv(self.group, 2, kernel_size=3)(f), dims=3)
        return nn.GroupPool(group=self.group)(f)


def test_linen_net_on_volumes_is_equivariant_and_exports_to_plain_conv():
    x = normal(0, (2, 4, 4, 4, 2))
    model = Net(OH)
    variables = jax.jit(model.init)(jax.random.key(0), x)  # jitted: one compilation instead of one per operation
    train = jax.jit(lambda m, v: m.apply(v, x, train=True, mutable=["batch_stats"]), static_argnums=0)
    variables = {**variables, **train(model, variables)[1]}  # non-trivial running statistics
    assert variables["params"]["GroupConv_0"]["kernel"].shape == (3, 3, 3, 3, 48, 2)
    assert worst(OH, lambda v: model.apply(variables, v), x, lambda g, y: actions.on_image(OH, g, y)) <= 1e-5
    plain, plain_variables = nn.export(model, variables, x)
    assert plain_variables["params"]["GroupConv_0"]["kernel"].shape == (3, 3, 3, 144, 96)
    for (out, _), (ref, _) in [(train(plain, plain_variables), train(model, variables))]:
        assert out.shape == (2, 2, 2, 2, 2)
        assert float(jnp.max(jnp.abs(out - ref)) / jnp.max(jnp.abs(ref))) <= 1e-5
    lift = nn.LiftingConv(O, 2, kernel_size=3, use_bias=False)  # a lone layer: exported without an example input
    lift_variables = jax.jit(lift.init)(jax.random.key(1), x)
    plain, plain_variables = nn.export(lift, lift_variables)
    out, ref = jax.jit(lambda: (plain.apply(plain_variables, x), lift.apply(lift_variables, x)))()
    np.testing.assert_allclose(out, ref.reshape(2, 4, 4, 4, 48), rtol=1e-5, atol=1e-5)


class NnxNet(fnnx.Module):
    def __init__(self, group, rngs):
        self.lift = nnx.LiftingConv(group, 2, 3, kernel_size=3, rngs=rngs)
        self.bn = nnx.GroupBatchNorm(3, rngs=rngs)
        self.conv = nnx.GroupConv(group, 3, 2, kernel_size=(3, 3, 3), rngs=rngs)
        self.pool = nnx.GroupPool(group=group)

    def __call__(self, x):
        return self.conv(fnnx.relu(self.bn(self.lift(x))))


def test_nnx_net_on_volumes_is_equivariant_and_exports_to_plain_conv():
    x = normal(1, (2, 4, 4, 4, 2))
    net = NnxNet(O, fnnx.Rngs(0))
    fnnx.jit(lambda net, x: net(x))(net, x)  # one training step of the batch statistics
    net.eval()
    assert net.conv.kernel.shape == (3, 3, 3, 3, 24, 2)
    graphdef, state = fnnx.split(net)
    apply = lambda v: fnnx.merge(graphdef, state)(v)  # noqa: E731 (a pure function of the input, for jit)
    assert worst(O, apply, x, lambda g, y: actions.on_group_image(O, g, y)) <= 1e-5
    plain = nnx.export(net)
    assert plain.model.conv.conv.kernel.shape == (3, 3, 3, 72, 48)
    out, ref, pooled = fnnx.jit(lambda plain, net, x: (plain(x), net(x), net.pool(net(x))))(plain, net, x)
    assert pooled.shape == (2, 4, 4, 4, 2)
    assert float(jnp.max(jnp.abs(out - ref.reshape(2, 4, 4, 4, 48))) / jnp.max(jnp.abs(ref))) <= 1e-5
