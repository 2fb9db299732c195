"""Functional layer definitions: parameters, apply == functional calls, export expansion == apply, Linen == NNX."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx as fnnx
from jax import lax

from symjax import functional as F
from symjax import groups, nn, nnx
from symjax.groups._reps import Regular, Standard, Trivial, equivariant_basis

D4, C4, C8 = groups.dihedral(4), groups.cyclic(4), groups.cyclic(8)
APPROX = pytest.mark.filterwarnings("ignore::symjax.EquivarianceWarning")  # C8 warns by design: approximate


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def init_params(specs, seed=0):
    """Parameters drawn from their specs, then made non-trivial (biases are zeros at init)."""
    params = {}
    for i, s in enumerate(specs):
        key = jax.random.key(seed + i) if s.keyed else None
        params[s.name] = s.init(key, s.shape, s.dtype) + normal(seed + 100 + i, s.shape)
    return params


def plain_conv(layer, params, x):
    """The layer computed as one ordinary convolution with its expanded parameters."""
    plain = layer.expand(params)
    y = lax.conv_general_dilated(layer.flatten_input(x), plain["kernel"], layer.strides, layer.padding,
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    if "bias" in plain:
        y = y + plain["bias"]
    return layer.unflatten_output(y)


CONVS = [
    (F.FunctionalLiftingConv(D4, 4), (2, 7, 7, 3)),
    (F.FunctionalLiftingConv(C4, 2, kernel_size=5, strides=2, padding="VALID", use_bias=False), (1, 9, 9, 2)),
    pytest.param(F.FunctionalLiftingConv(C8, 3, padding=1), (1, 7, 7, 2), marks=APPROX),
    (F.FunctionalGroupConv(D4, 3, strides=2), (2, 9, 9, 2, 8)),
    (F.FunctionalGroupConv(C4, 2, kernel_size=(1, 1)), (1, 5, 5, 3, 4)),
    pytest.param(F.FunctionalGroupConv(C8, 2, padding=((1, 1), (1, 1))), (1, 7, 7, 2, 8), marks=APPROX),
]
CONV_IDS = ["lift-D4", "lift-C4-valid-stride2-nobias", "lift-C8", "group-D4-stride2", "group-C4-1x1", "group-C8"]


@pytest.mark.parametrize("layer,shape", CONVS, ids=CONV_IDS)
def test_conv_param_specs(layer, shape):
    cin = shape[3]
    assert layer.in_features(jnp.ones(shape)) == cin
    specs = {s.name: s for s in layer.param_specs(cin)}
    n, kh, kw = layer.group.order, *layer.kernel_size
    grouped = isinstance(layer, F.FunctionalGroupConv)
    assert specs["kernel"].shape == ((kh, kw, cin, n, layer.out_features) if grouped else (kh, kw, cin, layer.out_features))
    assert specs["kernel"].init is F.default_kernel_init and specs["kernel"].dtype == jnp.float32
    assert ("bias" in specs) == layer.use_bias
    if layer.use_bias:
        assert specs["bias"].shape == (layer.out_features,)
    assert set(specs) <= set(layer.param_names)


@pytest.mark.parametrize("layer,shape", CONVS, ids=CONV_IDS)
def test_conv_apply_is_the_functional_call_and_the_plain_conv(layer, shape):
    x = normal(1, shape)
    params = init_params(layer.param_specs(layer.in_features(x)))
    conv = F.group_conv if isinstance(layer, F.FunctionalGroupConv) else F.lifting_conv
    y = layer.apply(params, x)
    np.testing.assert_array_equal(y, conv(x, params["kernel"], layer.group, strides=layer.strides,
                                          padding=layer.padding, bias=params.get("bias")))
    # jit may fuse the kernel expansion differently from eager ops (XLA:CPU on an AMD EPYC: 1.9e-6 on outputs of
    # size 10, C8): float rounding, so allclose, not bitwise
    np.testing.assert_allclose(jax.jit(layer.apply)(params, x), y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(plain_conv(layer, params, x), y, rtol=1e-5, atol=1e-5)
    plain = layer.expand(params)
    assert plain["kernel"].shape[-1] == layer.plain_features == layer.out_features * layer.group.order
    assert layer.is_group_map(y) and not layer.is_group_map(y[..., 0])


def test_conv_configuration_is_canonical_and_hashable():
    a = F.FunctionalGroupConv(D4, 3, kernel_size=3, strides=(1, 1), padding="same")
    b = F.FunctionalGroupConv(D4, 3)
    assert a == b and hash(a) == hash(b)
    assert a.kernel_size == (3, 3) and a.strides == (1, 1) and a.padding == "SAME"
    assert F.FunctionalLiftingConv(C4, 2, padding=1).padding == ((1, 1), (1, 1))
    assert isinstance(a, F.FunctionalConv)


def test_conv_dtype():
    layer = F.FunctionalLiftingConv(C4, 2, dtype=jnp.bfloat16)
    x = jnp.ones((1, 5, 5, 1))
    params = init_params(layer.param_specs(1))
    assert params["kernel"].dtype == jnp.float32 and layer.apply(params, x).dtype == jnp.bfloat16
    half = F.FunctionalLiftingConv(C4, 2, param_dtype=jnp.bfloat16)
    assert all(s.dtype == jnp.bfloat16 for s in half.param_specs(1))


def test_input_like_restores_feature_axes():
    layer = F.FunctionalGroupConv(D4, 3)
    params = init_params(layer.param_specs(2))
    x = jnp.ones((4, 6, 6, 5, 8))  # wrong channels, as a shape-polymorphic trace has: only they change
    assert layer.input_like(x, params).shape == (4, 6, 6, 2, 8)
    assert layer.input_like(x[..., 0], params).shape == (4, 6, 2, 8)  # the rank stays wrong, for apply to report
    lift = F.FunctionalLiftingConv(D4, 3)
    assert lift.input_like(x[..., 0], {"kernel": jnp.ones((3, 3, 7, 3))}).shape == (4, 6, 6, 7)


def test_flatten_group_maps_only_flattens_the_layers_output_layout():
    layers = [F.FunctionalLiftingConv(D4, 2), F.FunctionalGroupConv(C4, 2)]
    out = {"d4": jnp.ones((2, 5, 5, 3, 8)), "c4": jnp.ones((2, 5, 5, 3, 4)), "rank4": jnp.ones((2, 5, 5, 8)),
           "other": jnp.ones((2, 5, 5, 3, 6)), "logits": jnp.ones((2, 10)), "none": None}
    flat = F.flatten_group_maps(out, layers)
    assert flat["d4"].shape == (2, 5, 5, 24) and flat["c4"].shape == (2, 5, 5, 12)
    assert flat["rank4"].shape == (2, 5, 5, 8) and flat["other"].shape == (2, 5, 5, 3, 6)
    assert flat["logits"].shape == (2, 10) and flat["none"] is None
    assert F.flatten_group_maps(out["d4"], []).shape == (2, 5, 5, 3, 8)


def test_conv_bad_input():
    with pytest.raises(ValueError, match="group = S3"):
        F.FunctionalLiftingConv(groups.symmetric(3), 2)
    with pytest.raises(ValueError, match="padding"):
        F.FunctionalGroupConv(D4, 2, padding="FULL")
    with pytest.raises(ValueError, match="kernel_size"):
        F.FunctionalGroupConv(D4, 2, kernel_size=(3, 3, 3))
    with pytest.raises(ValueError, match="strides"):
        F.FunctionalLiftingConv(D4, 2, strides=0)
    with pytest.raises(ValueError, match=r"LiftingConv expects x of rank 4"):
        F.FunctionalLiftingConv(D4, 2).in_features(jnp.ones((5, 5, 2)))
    with pytest.raises(ValueError, match=r"GroupConv expects the last axis of x to have size \|G\| = 8"):
        F.FunctionalGroupConv(D4, 2).flatten_input(jnp.ones((1, 5, 5, 2, 4)))


def test_batch_norm_specs_apply_and_running_average():
    bn = F.FunctionalGroupBatchNorm(momentum=0.9)
    f = normal(2, (4, 5, 5, 3, 8)) * 2.0 + 1.0
    c = bn.in_features(f)
    assert c == 3
    assert [(s.name, s.shape, s.keyed) for s in bn.param_specs(c)] == [("scale", (3,), True), ("bias", (3,), True)]
    assert [(s.name, s.dtype, s.keyed) for s in bn.stat_specs(c)] == [("mean", jnp.float32, False),
                                                                       ("var", jnp.float32, False)]
    params = init_params(bn.param_specs(c))
    stats = {s.name: s.init(None, s.shape, s.dtype) for s in bn.stat_specs(c)}
    y, new = bn.apply(params, stats, f, use_running_average=False)
    mean, var = F.group_moments(f)
    np.testing.assert_array_equal(y, F.group_batch_norm(f, mean, var, params["scale"], params["bias"]))
    np.testing.assert_allclose(new["mean"], 0.1 * mean, rtol=1e-6)
    np.testing.assert_allclose(new["var"], 0.9 + 0.1 * var, rtol=1e-6)
    y_eval, none = bn.apply(params, new, f, use_running_average=True)
    assert none is None
    np.testing.assert_array_equal(y_eval, F.group_batch_norm(f, new["mean"], new["var"], params["scale"],
                                                             params["bias"]))
    assert bn.apply(params, stats, f, use_running_average=False, initializing=True)[1] is None
    plain = F.FunctionalGroupBatchNorm(use_scale=False, use_bias=False, dtype=jnp.bfloat16)
    assert plain.param_specs(3) == ()
    assert plain.apply({}, stats, f, use_running_average=True)[0].dtype == jnp.bfloat16
    with pytest.raises(ValueError, match=r"\(N, \.\.\., C, \|G\|\)"):
        bn.in_features(jnp.ones((8,)))
    with pytest.raises(ValueError, match=r"\(N, \.\.\., 3, \|G\|\)"):
        bn.in_features(jnp.ones((2, 5, 5, 4, 8)), 3)


def test_set_linear_specs_and_apply():
    layer = F.FunctionalSetLinear(4)
    x = normal(3, (2, 6, 3))
    specs = layer.param_specs(layer.in_features(x))
    assert [(s.name, s.shape) for s in specs] == [("lam", (3, 4)), ("gam", (3, 4)), ("bias", (4,))]
    params = init_params(specs)
    np.testing.assert_array_equal(layer.apply(params, x), F.set_linear(x, params["lam"], params["gam"],
                                                                       params["bias"]))
    assert [s.name for s in F.FunctionalSetLinear(4, use_bias=False).param_specs(3)] == ["lam", "gam"]
    with pytest.raises(ValueError, match=r"SetLinear expects x of shape \(\.\.\., N, C\)"):
        layer.in_features(jnp.ones(3))


def test_equivariant_linear_specs_bias_projection_and_apply():
    V, S = Standard(groups.O(3)), Trivial(groups.O(3))
    layer = F.FunctionalEquivariantLinear(2 * V + S, V * V + S)
    specs = {s.name: s for s in layer.param_specs()}
    assert specs["coeffs"].shape == (len(equivariant_basis(2 * V + S, V * V + S)),)
    assert specs["bias"].shape == (2,) and not specs["bias"].keyed
    params = init_params(specs.values())
    x = normal(4, (5, 7))
    bias = layer.bias_vector(params["bias"])
    assert bias.shape == (10,)
    np.testing.assert_array_equal(layer.apply(params, x),
                                  F.equivariant_linear(x, params["coeffs"], layer.basis, bias))
    assert [s.name for s in F.FunctionalEquivariantLinear(V, 2 * V).param_specs()] == ["coeffs"]


def test_promote_dtype():
    x, k, b = F.promote_dtype(jnp.ones(2, jnp.int32), jnp.ones(2, jnp.float16), None)
    assert x.dtype == k.dtype == jnp.float16 and b is None
    (i,) = F.promote_dtype(jnp.ones(2, jnp.int32))
    assert i.dtype == jnp.float32
    with pytest.raises(ValueError, match="dtype"):
        F.promote_dtype(jnp.ones(2), dtype=jnp.int32)


LECUN = jax.nn.initializers.lecun_normal()


def nnx_params(module):
    return {n: getattr(module, n)[...] for n in module.functional.param_names if getattr(module, n) is not None}


# The NNX modules are built in the test (their parameters are drawn when built: not at collection, in every worker).
@pytest.mark.parametrize("lin,make_mod,shape", [
    (nn.LiftingConv(D4, 4, padding=1), lambda: nnx.LiftingConv(D4, 3, 4, padding=1, rngs=fnnx.Rngs(0)), (2, 7, 7, 3)),
    (nn.GroupConv(C4, 2, kernel_size=5, strides=2, use_bias=False),
     lambda: nnx.GroupConv(C4, 3, 2, kernel_size=5, strides=2, use_bias=False, rngs=fnnx.Rngs(1)), (1, 9, 9, 3, 4)),
    pytest.param(nn.GroupConv(C8, 2), lambda: nnx.GroupConv(C8, 2, 2, rngs=fnnx.Rngs(2)), (1, 7, 7, 2, 8),
                 marks=APPROX),
    (nn.SetLinear(4, kernel_init=LECUN), lambda: nnx.SetLinear(3, 4, kernel_init=LECUN, rngs=fnnx.Rngs(3)), (2, 6, 3)),
    (nn.EquivariantLinear(Regular(D4), Regular(D4) + Trivial(D4)),
     lambda: nnx.EquivariantLinear(Regular(D4), Regular(D4) + Trivial(D4), rngs=fnnx.Rngs(4)), (3, 8)),
], ids=["lift", "group-nobias", "group-C8", "set", "equivariant-linear"])
def test_linen_and_nnx_give_identical_outputs_for_identical_parameters(lin, make_mod, shape):
    mod, x = make_mod(), normal(5, shape)
    variables = lin.init(jax.random.key(0), x)
    assert jax.tree.map(jnp.shape, variables["params"]) == jax.tree.map(jnp.shape, nnx_params(mod))
    assert lin.functional == mod.functional
    for name, value in nnx_params(mod).items():  # non-trivial shared parameters
        getattr(mod, name)[...] = value + normal(6, value.shape)
    np.testing.assert_array_equal(lin.apply({"params": nnx_params(mod)}, x), mod(x))


def test_linen_and_nnx_batch_norm_identical_in_both_modes():
    f = normal(7, (4, 5, 5, 3, 8))
    mod = nnx.GroupBatchNorm(3, momentum=0.8, rngs=fnnx.Rngs(0))
    lin = nn.GroupBatchNorm(momentum=0.8)
    variables = lin.init(jax.random.key(0), f, use_running_average=True)
    assert lin.functional == mod.functional
    mod.scale[...], mod.bias[...] = normal(8, (3,)), normal(9, (3,))
    params = nnx_params(mod)
    y, state = lin.apply({"params": params, "batch_stats": variables["batch_stats"]}, f,
                         use_running_average=False, mutable=["batch_stats"])
    np.testing.assert_array_equal(mod(f), y)
    np.testing.assert_array_equal(mod.mean[...], state["batch_stats"]["mean"])
    np.testing.assert_array_equal(mod.var[...], state["batch_stats"]["var"])
    mod.eval()
    np.testing.assert_array_equal(mod(f), lin.apply({"params": params, **state}, f, use_running_average=True))


def test_linen_and_nnx_exports_use_the_same_expansion():
    x = normal(10, (1, 7, 7, 2))
    mod = nnx.LiftingConv(D4, 2, 3, rngs=fnnx.Rngs(0))
    lin = nn.LiftingConv(D4, 3)
    params = nnx_params(mod)
    _, plain_vars = nn.export(lin, {"params": params})
    exported = nnx.export(mod)
    expanded = mod.functional.expand(params)
    np.testing.assert_array_equal(plain_vars["params"]["kernel"], expanded["kernel"])
    np.testing.assert_array_equal(exported.model.conv.kernel[...], expanded["kernel"])
    np.testing.assert_array_equal(exported.model.conv.bias[...], expanded["bias"])
    np.testing.assert_allclose(exported(x), mod(x).reshape(1, 7, 7, 24), rtol=1e-5, atol=1e-5)


def test_layers_refuse_zero_features_and_accept_an_empty_batch():
    for make in (lambda: F.FunctionalLiftingConv(C4, 0), lambda: F.FunctionalGroupConv(C4, -1),
                 lambda: F.FunctionalGroupConv(C4, 2.0)):
        with pytest.raises(ValueError, match=r"out_features \(features in symjax.nn\) to be a positive int"):
            make()
    with pytest.raises(ValueError, match="SetLinear expects out_features"):
        F.FunctionalSetLinear(0)
    with pytest.raises(ValueError, match="in_features"):
        F.FunctionalGroupConv(C4, 2).param_specs(0)
    conv = F.FunctionalGroupConv(C4, 3, strides=2)
    x = jnp.zeros((0, 9, 9, 2, 4))
    params = init_params(conv.param_specs(conv.in_features(x)))
    assert conv.apply(params, x).shape == (0, 5, 5, 3, 4)
    assert conv.flatten_input(x).shape == (0, 9, 9, 8)


def test_batch_norm_needs_group_feature_maps():
    bn = F.FunctionalGroupBatchNorm()
    with pytest.raises(ValueError, match=r"rank >= 5.*got shape \(2, 9, 9, 3\): an image"):
        bn.in_features(jnp.ones((2, 9, 9, 3)))
    assert bn.in_features(jnp.ones((2, 9, 9, 3, 4))) == 3 and bn.in_features(jnp.ones((2, 5, 9, 9, 3, 4))) == 3
