"""nn.export: plain flax.linen.Conv models with the expanded kernels give the same outputs."""
import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax import groups, nn

G = groups.dihedral(4)


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


class Block(fnn.Module):
    features: int

    @fnn.compact
    def __call__(self, f, train: bool):
        f = nn.GroupConv(G, self.features, strides=2)(f)
        return fnn.relu(nn.GroupBatchNorm(use_running_average=not train)(f))


class Net(fnn.Module):
    """Compact, nested, with batch norm and a Dense head."""

    @fnn.compact
    def __call__(self, x, train: bool = False):
        f = fnn.relu(nn.LiftingConv(G, 3, padding="VALID")(x))
        f = Block(4)(f, train)
        z = nn.GroupPool()(f).mean(axis=(1, 2))
        return fnn.Dense(5)(fnn.BatchNorm(use_running_average=not train)(z))


class SetupNet(fnn.Module):
    """Setup-defined layers, one of them called twice (shared weights); returns a group feature map."""

    def setup(self):
        self.lift = nn.LiftingConv(G, 2, use_bias=False)
        self.conv = nn.GroupConv(G, 2, kernel_size=5)

    def __call__(self, x):
        return self.conv(fnn.relu(self.conv(self.lift(x))))


def trained_variables(model, x):
    variables = model.init(jax.random.key(0), x)
    _, state = model.apply(variables, x, train=True, mutable=["batch_stats"])  # non-trivial running stats
    return {**variables, **state}


def test_export_compact_nested_model_eval_and_train():
    x = normal(0, (2, 9, 9, 2))
    model = Net()
    variables = trained_variables(model, x)
    plain, plain_vars = nn.export(model, variables)
    p = plain_vars["params"]
    assert p["LiftingConv_0"]["kernel"].shape == (3, 3, 2, 24) and p["LiftingConv_0"]["bias"].shape == (24,)
    assert p["Block_0"]["GroupConv_0"]["kernel"].shape == (3, 3, 24, 32)
    assert jax.tree.map(jnp.shape, plain_vars["batch_stats"]) == jax.tree.map(jnp.shape, variables["batch_stats"])
    np.testing.assert_allclose(plain.apply(plain_vars, x), model.apply(variables, x), rtol=1e-5, atol=1e-6)
    y, s = model.apply(variables, x, train=True, mutable=["batch_stats"])
    y_plain, s_plain = plain.apply(plain_vars, x, train=True, mutable=["batch_stats"])
    np.testing.assert_allclose(y_plain, y, rtol=1e-5, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), s_plain, s)


def test_exported_model_runs_plain_convolutions_without_expansion():
    x = normal(1, (1, 9, 9, 2))
    model = Net()
    plain, plain_vars = nn.export(model, model.init(jax.random.key(0), x))
    names = {e.primitive.name for e in jax.make_jaxpr(lambda v: plain.apply(v, x))(plain_vars).jaxpr.eqns}
    assert "gather" not in names and "conv_general_dilated" in names


def test_export_setup_model_with_shared_layer_flattens_group_output():
    x = normal(2, (2, 7, 7, 1))
    model = SetupNet()
    variables = model.init(jax.random.key(0), x)
    plain, plain_vars = nn.export(model, variables)
    assert set(plain_vars["params"]["lift"]) == {"kernel"}
    y = model.apply(variables, x)
    y_plain = jax.jit(plain.apply)(plain_vars, x)
    assert y.shape == (2, 7, 7, 2, 8) and y_plain.shape == (2, 7, 7, 16)
    np.testing.assert_allclose(y_plain, y.reshape(2, 7, 7, 16), rtol=1e-5, atol=1e-5)


def test_export_single_layer():
    f = normal(3, (1, 5, 5, 3, 8))
    layer = nn.GroupConv(G, 2)
    variables = layer.init(jax.random.key(0), f)
    plain, plain_vars = nn.export(layer, variables)
    assert plain_vars["params"]["kernel"].shape == (3, 3, 24, 16)
    np.testing.assert_allclose(plain.apply(plain_vars, f), layer.apply(variables, f).reshape(1, 5, 5, 16),
                               rtol=1e-5, atol=1e-5)


class FlattenNet(fnn.Module):
    @fnn.compact
    def __call__(self, x):
        f = nn.LiftingConv(G, 2)(x)
        return fnn.Dense(3)(f.reshape(f.shape[0], -1))


def test_export_with_example_input_when_size_matters():
    x = normal(4, (2, 5, 5, 1))
    model = FlattenNet()
    variables = model.init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="example input"):
        nn.export(model, variables)
    plain, plain_vars = nn.export(model, variables, x)
    np.testing.assert_allclose(plain.apply(plain_vars, x), model.apply(variables, x), rtol=1e-5, atol=1e-5)


def test_export_bad_arguments():
    with pytest.raises(TypeError, match="model"):
        nn.export(lambda x: x, {"params": {}})
    with pytest.raises(ValueError, match="params"):
        nn.export(Net(), {"batch_stats": {}})
