"""functional relaxed lifting / group convolutions (Wang, Walters and Yu 2022) and relaxed_penalty (issue 14 item 2)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax import actions, groups
from symjax import functional as F

C4, D4 = groups.cyclic(4), groups.dihedral(4)


def _params(conv, cin, seed=0):
    """Random kernel and bias (NumPy draws: no compilation), the initial (equal) coefficients."""
    rng = np.random.default_rng(seed)
    params = {s.name: jnp.asarray(0.3 * rng.standard_normal(s.shape), jnp.float32) for s in conv.param_specs(cin)}
    params["relaxed_weights"] = jnp.full(params["relaxed_weights"].shape, 1 / np.sqrt(conv.num_filter_basis))
    return params


def _plain(conv, params, x):
    """The export's computation: one plain convolution with ``expand(params)`` on the flattened input."""
    plain = conv.expand(params)
    y = jax.lax.conv_general_dilated(conv.flatten_input(x), plain["kernel"], conv.strides, conv.padding,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return conv.unflatten_output(y + plain.get("bias", 0.0))


def test_equal_coefficients_give_the_group_convolution(arrays):
    G = D4
    x = jnp.asarray(arrays.normal(0, (2, 9, 9, 2)))
    lift = F.FunctionalRelaxedLiftingConv(G, 3, num_filter_basis=3)
    p = _params(lift, 2)
    assert {k: v.shape for k, v in p.items()} == {"kernel": (3, 3, 2, 3, 3), "relaxed_weights": (3, G.order),
                                                  "bias": (3,)}
    f = jax.jit(lift.apply)(p, x)
    a = p["relaxed_weights"][:, 0]  # equal over the group at initialisation
    np.testing.assert_allclose(f, F.lifting_conv(x, jnp.einsum("hwilo,l->hwio", p["kernel"], a), G, bias=p["bias"]), atol=1e-6)
    conv = F.FunctionalRelaxedGroupConv(G, 4, num_filter_basis=2, strides=2)
    q = _params(conv, 3, seed=5)
    q["relaxed_weights"] = jnp.tile(jnp.array([[0.7], [-1.2]]), (1, G.order))
    y = jax.jit(conv.apply)(q, f)
    np.testing.assert_allclose(y, F.group_conv(f, jnp.einsum("hwiglo,l->hwigo", q["kernel"], jnp.array([0.7, -1.2])), G, bias=q["bias"],
                                               strides=2), atol=1e-6)
    # the export runs the same computation as one plain convolution, also with unequal coefficients
    q["relaxed_weights"] = q["relaxed_weights"] + jnp.asarray(arrays.normal(1, (2, G.order)))
    np.testing.assert_allclose(jax.jit(_plain, static_argnums=0)(conv, q, f), jax.jit(conv.apply)(q, f), atol=1e-5)
    np.testing.assert_allclose(jax.jit(_plain, static_argnums=0)(lift, p, x), f, atol=1e-5)
    assert conv.input_like(jnp.zeros((1, 9, 9, 7, G.order)), q).shape == (1, 9, 9, 3, G.order)


def test_equivariance_error_grows_smoothly_with_the_distance_to_equal_coefficients(equivariance, arrays):
    """Error 0 at equal coefficients, then linear in their distance: error(s) / s constant within 10%.

    The error is a smooth function of the coefficients that vanishes on the
    equal ones, so for small steps it is proportional to the step (measured:
    ratios 2.80-2.83 for steps 1e-3 to 1e-1 in D4, 2.82-2.99 in C4).
    """
    f = jnp.asarray(arrays.normal(2, (2, 7, 7, 2, 8)))
    conv = F.FunctionalRelaxedGroupConv(D4, 3)
    q = _params(conv, 2)
    direction = jnp.asarray(arrays.normal(3, q["relaxed_weights"].shape))
    steps = [1e-3, 1e-2, 1e-1]
    errors = []
    for s in [0.0] + steps:
        qs = dict(q, relaxed_weights=q["relaxed_weights"] + s * direction)
        errors.append(equivariance.error(lambda f: conv.apply(qs, f), D4, f, actions.on_group_image,
                                         actions.on_group_image))
    assert errors[0] < equivariance.TOL
    ratios = np.array(errors[1:]) / np.array(steps)
    assert np.all(np.diff(errors) > 0) and ratios.max() / ratios.min() < 1.1, (errors, ratios)
    qs = dict(q, relaxed_weights=q["relaxed_weights"] + 0.1 * direction)
    expected = float(jnp.sum((0.1 * direction - jnp.mean(0.1 * direction, 1, keepdims=True)) ** 2))
    np.testing.assert_allclose(float(conv.penalty(qs)), expected, rtol=1e-5)
    np.testing.assert_allclose(float(F.relaxed_penalty({"a": qs, "b": {"relaxed_weights": q["relaxed_weights"]}})),
                               expected, rtol=1e-5)


def test_relaxed_conv_refuses_bad_configuration():
    with pytest.raises(ValueError, match="num_filter_basis"):
        F.FunctionalRelaxedLiftingConv(C4, 3, num_filter_basis=0)
    with pytest.raises(ValueError, match="RelaxedGroupConv"):
        F.FunctionalRelaxedGroupConv(C4, 3).in_features(jnp.ones((1, 5, 5, 2, 8)))
