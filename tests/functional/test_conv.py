"""Kernel expansion, lifting/group convolution and group pooling: definitions, equivariance, bad input."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import warnings

from symjax import EquivarianceWarning, actions, geometry, groups, symmetry
from symjax import functional as F

EXACT = geometry.exact_groups()
IDS = [G.name for G in EXACT]
TOL = 1e-5


def rel_err(a, b):
    return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))


def normal(seed, shape):
    """Test data from NumPy: no XLA compilation per shape."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def equivariance_err(f, G, x, act_in, act_out):
    """``symmetry.equivariance_error`` (max over all elements, vmapped), in one jit."""
    return float(jax.jit(lambda x: symmetry.equivariance_error(f, G, x, act_in, act_out))(x))


def lift_err(G, x, kernel, **kw):
    return equivariance_err(lambda x: F.lifting_conv(x, kernel, G, **kw), G, x, actions.on_image,
                            actions.on_group_image)


def group_err(G, x, kernel, **kw):
    return equivariance_err(lambda x: F.group_conv(x, kernel, G, **kw), G, x, actions.on_group_image,
                            actions.on_group_image)


@pytest.mark.parametrize("G", EXACT, ids=IDS)
def test_lift_kernel_is_stack_of_transformed_kernels(G):
    k = normal(0, (3, 3, 2, 3))
    copies = jax.jit(actions.orbit, static_argnums=0)(G, k.reshape(3, 3, 6)).reshape(G.order, 3, 3, 2, 3)
    expected = jnp.moveaxis(copies, 0, -1).reshape(3, 3, 2, 3 * G.order)
    np.testing.assert_array_equal(jax.jit(F.lift_kernel, static_argnums=1)(k, G), expected)


@pytest.mark.parametrize("G", EXACT, ids=IDS)
def test_group_kernel_is_regular_action_on_kernel(G):
    n = G.order
    k = normal(1, (3, 3, 2, n, 3))
    as_map = k.transpose(4, 0, 1, 2, 3)  # (cout, kh, kw, cin, |G|): a group feature map per output channel
    blocks = jax.jit(actions.orbit, static_argnums=(0, 2))(G, as_map, actions.on_group_image)  # (h, cout, ...)
    expected = blocks.transpose(2, 3, 4, 5, 1, 0).reshape(3, 3, 2 * n, 3 * n)
    np.testing.assert_array_equal(jax.jit(F.group_kernel, static_argnums=1)(k, G), expected)


@pytest.mark.parametrize("size", [7, 8])
@pytest.mark.parametrize("G", EXACT, ids=IDS)
def test_lifting_and_group_conv_equivariant_under_jit(G, size):
    x = normal(2, (2, size, size, 3))
    k1, k2 = normal(3, (3, 3, 3, 4)), normal(4, (3, 3, 4, G.order, 2))
    assert lift_err(G, x, k1) <= TOL
    assert group_err(G, normal(5, (2, size, size, 4, G.order)), k2) <= TOL


@pytest.mark.parametrize("g", [3, 5])
def test_lifting_and_group_conv_equivariant_eagerly(g):
    G = groups.dihedral(4)
    x, k1, k2 = normal(2, (1, 7, 7, 3)), normal(3, (3, 3, 3, 4)), normal(4, (3, 3, 4, 8, 2))
    f = F.lifting_conv(x, k1, G)
    assert rel_err(F.lifting_conv(actions.on_image(G, g, x), k1, G), actions.on_group_image(G, g, f)) <= TOL
    assert rel_err(F.group_conv(actions.on_group_image(G, g, f), k2, G),
                   actions.on_group_image(G, g, F.group_conv(f, k2, G))) <= TOL


@pytest.mark.parametrize("G", [groups.cyclic(4), groups.dihedral(4)], ids=["C4", "D4"])
def test_stride_two_on_odd_size_and_explicit_symmetric_padding(G):
    x = normal(5, (1, 9, 9, 2))
    k1, k2 = normal(6, (3, 3, 2, 3)), normal(7, (5, 5, 3, G.order, 2))
    assert lift_err(G, x, k1, strides=2) <= TOL
    f = F.lifting_conv(x, k1, G, padding=1)
    assert group_err(G, f, k2, strides=2, padding=((2, 2), (2, 2))) <= TOL
    assert group_err(G, f, k2, padding="VALID") <= TOL


def five_layer_net(G, kernels, strides):
    def net(x):
        f = jax.nn.relu(F.lifting_conv(x, kernels[0], G, strides=strides[0]))
        for k, s in zip(kernels[1:], strides[1:]):
            f = jax.nn.relu(F.group_conv(f, k, G, strides=s))
        return f
    return net


@pytest.mark.parametrize("size,strides", [(7, (1,) * 5), (8, (1,) * 5), (9, (1, 2, 1, 2, 1))],
                         ids=["odd", "even", "odd-stride2"])
def test_five_layer_network_equivariant(size, strides):
    G = groups.dihedral(4)
    kernels = [normal(10, (3, 3, 1, 3))] + [normal(11 + i, (3, 3, 3, 8, 3)) for i in range(4)]
    x = normal(8, (1, size, size, 1))
    assert equivariance_err(five_layer_net(G, kernels, strides), G, x, actions.on_image,
                            actions.on_group_image) <= TOL


@functools.partial(jax.jit, static_argnums=0)
def _property_err(G, g, f, k):
    y = F.group_conv(f, k, G)
    return jnp.max(jnp.abs(F.group_conv(actions.on_group_image(G, g, f), k, G) - actions.on_group_image(G, g, y))) / \
        jnp.max(jnp.abs(y))


@settings(max_examples=8)
@given(group=st.sampled_from(EXACT), size=st.just(5), seed=st.integers(0, 2**16), data=st.data())
def test_group_conv_equivariance_property(group, size, seed, data):
    g = data.draw(st.integers(0, group.order - 1))
    f = normal(seed, (1, size, size, 2, group.order))
    k = normal(seed + 1, (3, 3, 2, group.order, 2))
    assert float(_property_err(group, jnp.int32(g), f, k)) <= TOL


def test_non_square_input_with_flips_only_is_exact():
    G = groups.dihedral(2)
    x = normal(9, (1, 7, 9, 2))
    assert lift_err(G, x, normal(10, (3, 3, 2, 2))) <= TOL


def test_bias_is_shared_over_group_axis():
    G = groups.cyclic(4)
    x, k = normal(0, (1, 5, 5, 2)), normal(1, (3, 3, 2, 3))
    b = jnp.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(F.lifting_conv(x, k, G, bias=b), F.lifting_conv(x, k, G) + b[:, None], atol=1e-6)


@pytest.mark.parametrize("fn,rank", [(F.lifting_conv, 4), (F.group_conv, 5)])
def test_one_convolution_and_no_loop_over_elements(fn, rank):
    G = groups.dihedral(4)
    x = jnp.ones((1, 7, 7, 2) + ((8,) if rank == 5 else ()))
    k = jnp.ones((3, 3, 2) + ((8,) if rank == 5 else ()) + (3,))
    eqns = jax.make_jaxpr(lambda x, k: fn(x, k, G))(x, k).jaxpr.eqns
    names = [e.primitive.name for e in eqns]
    assert names.count("conv_general_dilated") == 1
    assert names.count("gather") == 1


@pytest.mark.parametrize("reduce,expected", [("max", 4.0), ("mean", 2.5), ("sum", 10.0)])
def test_group_pool_invariant(reduce, expected):
    assert F.group_pool(jnp.array([[1.0, 4.0, 2.0, 3.0]]), reduce).tolist() == [expected]
    G = groups.dihedral(4)
    f = normal(0, (1, 6, 6, 2, 8))
    assert equivariance_err(lambda f: F.group_pool(f, reduce), G, f, actions.on_group_image, actions.on_image) <= 1e-6


@pytest.mark.filterwarnings("ignore::symjax.EquivarianceWarning")  # the non-square input below
def test_bad_inputs_raise_value_errors_naming_argument():
    G = groups.dihedral(4)
    with pytest.raises(ValueError, match=r"\|G\| = 8.*got 4"):
        F.group_conv(jnp.ones((1, 5, 5, 2, 4)), jnp.ones((3, 3, 2, 8, 1)), G)
    with pytest.raises(ValueError, match="rank 4"):
        F.lifting_conv(jnp.ones((5, 5, 2)), jnp.ones((3, 3, 2, 1)), G)
    with pytest.raises(ValueError, match="rank 5"):
        F.group_conv(jnp.ones((1, 5, 5, 16)), jnp.ones((3, 3, 2, 8, 1)), G)
    with pytest.raises(ValueError, match="A4"):  # no 2x2 matrices (C8, D8 are accepted: approximate)
        F.lifting_conv(jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 1)), groups.alternating(4))
    with pytest.raises(ValueError, match="S3"):
        F.lift_kernel(jnp.ones((3, 3, 2, 1)), groups.symmetric(3))
    with pytest.raises(TypeError, match="FiniteGroup"):
        F.group_kernel(jnp.ones((3, 3, 2, 8, 1)), "D4")
    with pytest.raises(ValueError, match="padding"):
        F.lifting_conv(jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 1)), G, padding="REFLECT")
    with pytest.raises(ValueError, match="padding"):
        F.lifting_conv(jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 1)), G, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="strides"):
        F.lifting_conv(jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 1)), G, strides=0)
    with pytest.raises(ValueError, match="reduce"):
        F.group_pool(jnp.ones((2, 8)), "median")
    with pytest.raises(ValueError, match="square kernel"):
        F.lift_kernel(jnp.ones((3, 5, 2, 1)), G)
    with pytest.raises(ValueError, match="cin = 3"):
        F.lifting_conv(jnp.ones((1, 5, 5, 3)), jnp.ones((3, 3, 2, 1)), G)
    with pytest.raises(ValueError, match="bias of shape"):
        F.lifting_conv(jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 1)), G, bias=jnp.ones(8))
    with pytest.raises(ValueError, match=r"square images"):  # 90-degree rotations of a non-square image
        actions.on_image(G, 1, F.group_pool(F.lifting_conv(jnp.ones((1, 5, 7, 2)), jnp.ones((3, 3, 2, 1)), G)))


def test_grad_flows_to_kernel():
    G = groups.cyclic(4)
    x = normal(0, (1, 5, 5, 1))
    k = normal(1, (3, 3, 1, 2))
    g = jax.grad(lambda k: jnp.sum(F.lifting_conv(x, k, G) ** 2))(k)
    assert g.shape == k.shape and bool(jnp.all(jnp.isfinite(g)))


# (name, G, x shape, kernel shape, options): configurations that cannot be exactly equivariant (issue 12).
BREAKERS = [
    ("p4 group conv, stride 2 on 8x8", groups.cyclic(4), (1, 8, 8, 2, 4), (3, 3, 2, 4, 2), dict(strides=2)),
    ("p4 lifting, stride 2 on 28x28", groups.cyclic(4), (1, 28, 28, 1), (3, 3, 1, 2), dict(strides=2)),
    ("C8 on 29x29", groups.cyclic(8), (1, 29, 29, 1), (3, 3, 1, 2), {}),
    ("4x4 kernel", groups.dihedral(4), (1, 7, 7, 1), (4, 4, 1, 2), {}),
    ("9x11 input with C4", groups.cyclic(4), (1, 9, 11, 1), (3, 3, 1, 2), {}),
    ("asymmetric padding", groups.dihedral(4), (1, 7, 7, 1), (3, 3, 1, 2), dict(padding=((0, 2), (0, 2)))),
]


def _conv(x_shape, kernel_shape, G, **options):
    """``lifting_conv`` or ``group_conv`` (by the rank of ``x``), traced only (no compilation)."""
    fn = F.lifting_conv if len(x_shape) == 4 else F.group_conv
    return jax.eval_shape(lambda x, k: fn(x, k, G, **options), jnp.zeros(x_shape), jnp.zeros(kernel_shape))


@pytest.mark.parametrize("name,G,x_shape,kernel_shape,options", BREAKERS, ids=[b[0] for b in BREAKERS])
def test_configurations_that_cannot_be_equivariant_warn_or_raise_with_strict(name, G, x_shape, kernel_shape,
                                                                             options):
    with pytest.warns(EquivarianceWarning, match="cannot be exactly equivariant") as record:
        _conv(x_shape, kernel_shape, G, **options)
    assert "strict=True" in str(record[0].message) and __file__ == record[0].filename  # points at the caller
    with pytest.raises(ValueError, match="cannot be exactly equivariant.*strict=True"):
        _conv(x_shape, kernel_shape, G, strict=True, **options)


@pytest.mark.parametrize("x_shape,kernel_shape,options", [
    ((1, 9, 9, 2), (3, 3, 2, 2), dict(strides=2)),
    ((1, 8, 8, 2), (3, 3, 2, 2), {}),
    ((1, 7, 7, 2, 8), (5, 5, 2, 8, 2), dict(strides=2, padding="VALID")),
    ((1, 8, 8, 2, 8), (4, 4, 2, 8, 2), dict(padding="VALID")),  # even kernel, VALID: centred, exact
    ((1, 10, 10, 2, 8), (3, 3, 2, 8, 2), dict(strides=3)),  # (10 - 1) % 3 == 0
])
def test_equivariant_configurations_do_not_warn(x_shape, kernel_shape, options):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _conv(x_shape, kernel_shape, groups.dihedral(4), strict=True, **options)


def test_non_square_input_warns_only_with_90_degree_rotations():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _conv((1, 7, 9, 2), (3, 3, 2, 2), groups.dihedral(2))
        _conv((1, 8, 10, 2), (3, 3, 2, 2), groups.trivial(), strides=2)  # the trivial group never warns
    with pytest.warns(EquivarianceWarning, match="7x9, not square"):
        _conv((1, 7, 9, 2), (3, 3, 2, 2), groups.dihedral(4))


def test_the_warning_is_the_measured_equivariance_error():
    """The warning of ``lifting_conv`` fires exactly when its measured error exceeds float32 rounding."""
    G = groups.dihedral(4)
    for size, strides, padding, k in [(8, 2, "SAME", 3), (9, 2, "SAME", 3), (10, 3, "SAME", 3), (11, 3, "SAME", 3),
                                      (8, 2, "VALID", 4), (8, 1, "SAME", 4)]:
        x, kernel = normal(size, (1, size, size, 1)), normal(k, (k, k, 1, 2))
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            error = lift_err(G, x, kernel, strides=strides, padding=padding)
        warned = any(issubclass(r.category, EquivarianceWarning) for r in record)
        assert warned == (error > TOL), (size, strides, padding, k, error)


def test_warns_once_per_configuration():
    G, k = groups.cyclic(4), jnp.ones((3, 3, 1, 1))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("default")
        for size in (8, 8, 10, 8, 10):
            jax.eval_shape(lambda x: F.lifting_conv(x, k, G, strides=2), jnp.zeros((1, size, size, 1)))
    assert len(record) == 2 and "input 8x8" in str(record[0].message) and "input 10x10" in str(record[1].message)


@pytest.mark.parametrize("fn,x_shape,kernel_shape", [(F.lifting_conv, (0, 9, 9, 2), (3, 3, 2, 3)),
                                                     (F.group_conv, (0, 9, 9, 2, 4), (3, 3, 2, 4, 3))])
def test_empty_batch_gives_an_empty_result_as_a_plain_conv(fn, x_shape, kernel_shape):
    G = groups.cyclic(4)
    y = fn(jnp.zeros(x_shape), jnp.ones(kernel_shape), G, strides=2, bias=jnp.ones(3))
    assert y.shape == (0, 5, 5, 3, 4)
