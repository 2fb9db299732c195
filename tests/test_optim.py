"""Tests for symjax.optim: syre, syre_adamw and decay_toward as Optax transformations."""

import warnings

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from flax.core import FrozenDict
from hypothesis import given, settings

from symjax import optim
from symjax.symmetry import remove_symmetry
from symjax.symmetry._removal import draw

KEY = jax.random.key(0)


def params_tree():
    return {
        "dense": {"kernel": jnp.linspace(-1.0, 1.0, 12).reshape(4, 3), "bias": jnp.full(3, 0.5)},
        "steps": jnp.array(7),
    }


def grads_like(params, value=0.1):
    return jax.tree.map(lambda p: jnp.full_like(p, value) if jnp.issubdtype(p.dtype, jnp.floating) else p, params)


def test_syre_init_draws_the_remove_symmetry_offsets():
    params = params_tree()
    for eps in (0.0, 0.1):
        state = optim.syre(0.1, KEY, scale=0.2, anisotropy=eps).init(params)
        removal = remove_symmetry(KEY, params, scale=0.2, anisotropy=eps)
        assert isinstance(state, optim.DecayTowardState)
        np.testing.assert_array_equal(state.anchor["dense"]["kernel"], removal.offsets["dense"]["kernel"])
        assert state.anchor["steps"] is None
        assert (state.decay is None) == (eps == 0.0)


def test_syre_update_formula():
    params = params_tree()
    grads = grads_like(params)
    opt = optim.syre(0.3, KEY, anisotropy=0.1)
    updates, state = opt.update(grads, opt.init(params), params)
    removal = remove_symmetry(KEY, params, anisotropy=0.1)
    for name in ("kernel", "bias"):
        expected = 0.1 + 0.3 * removal.decay["dense"][name] * (params["dense"][name] - removal.offsets["dense"][name])
        np.testing.assert_allclose(updates["dense"][name], expected, rtol=1e-6)
    assert int(updates["steps"]) == 7  # non-floating leaves pass through


def test_mask_leaves_pass_through():
    params = params_tree()
    grads = grads_like(params)
    opt = optim.syre(0.3, KEY, mask=lambda p: {"dense": {"kernel": True, "bias": False}, "steps": False})
    updates, state = opt.update(grads, opt.init(params), params)
    np.testing.assert_array_equal(updates["dense"]["bias"], grads["dense"]["bias"])
    assert state.anchor["dense"]["bias"] is None
    assert not jnp.allclose(updates["dense"]["kernel"], 0.1)


def test_regenerate_stores_only_the_key_and_draws_the_same_anchor():
    params = {"w": 0.1 * jnp.ones((65, 33)), "b": jnp.zeros(33), "n": jnp.array(1)}
    grads = grads_like(params, 0.01)
    eps = 0.05
    stored = optim.syre(0.1, KEY, anisotropy=eps)
    lean = optim.syre(0.1, KEY, anisotropy=eps, regenerate=True)
    lean_state = lean.init(params)
    assert isinstance(lean_state, optim.SyreKeyState)
    assert len(jax.tree.leaves(lean_state)) == 1
    # The draw inside the jitted update is bit-identical to remove_symmetry's.
    anchor, decay = jax.jit(lambda k, p: draw(k, p, 0.01, None, eps))(lean_state.key, params)
    removal = remove_symmetry(KEY, params, anisotropy=eps)
    np.testing.assert_array_equal(anchor["w"], removal.offsets["w"])
    np.testing.assert_array_equal(decay["w"], removal.decay["w"])
    a, _ = jax.jit(stored.update)(grads, stored.init(params), params)
    b, _ = jax.jit(lean.update)(grads, lean_state, params)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-9)


def state_bytes(state):
    """Bytes held by the state's leaves (a typed PRNG key counts its key data)."""
    total = 0
    for leaf in jax.tree.leaves(state):
        if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        total += leaf.nbytes
    return total


def test_optimizer_state_memory():
    params = {"w": jnp.ones((64, 32)), "b": jnp.ones(32)}
    n = 64 * 32 + 32
    adamw = optax.adamw(1e-3).init(params)
    stored = optim.syre_adamw(1e-3, key=KEY).init(params)
    lean = optim.syre_adamw(1e-3, key=KEY, regenerate=True).init(params)
    anisotropic = optim.syre_adamw(1e-3, key=KEY, anisotropy=0.01).init(params)
    assert state_bytes(stored) == state_bytes(adamw) + 4 * n  # the anchor, no tree of ones
    assert state_bytes(lean) == state_bytes(adamw) + 8  # a key
    assert state_bytes(anisotropic) == state_bytes(adamw) + 8 * n


@pytest.mark.parametrize("regenerate", [False, True])
def test_syre_adamw_without_offset_is_adamw(regenerate):
    params = params_tree()
    params = {"dense": params["dense"]}
    plain = optax.adamw(optax.linear_schedule(0.1, 0.01, 5), weight_decay=0.05)
    ours = optim.syre_adamw(optax.linear_schedule(0.1, 0.01, 5), 0.05, key=KEY, scale=0.0, regenerate=regenerate)
    p1, s1 = params, plain.init(params)
    p2, s2 = params, ours.init(params)
    step = jax.jit(lambda opt, p, s: opt.update(jax.tree.map(jnp.sin, p), s, p), static_argnums=0)
    for _ in range(5):
        u1, s1 = step(plain, p1, s1)
        u2, s2 = step(ours, p2, s2)
        p1, p2 = optax.apply_updates(p1, u1), optax.apply_updates(p2, u2)
    for x, y in zip(jax.tree.leaves(p1), jax.tree.leaves(p2)):
        np.testing.assert_allclose(x, y, rtol=1e-6)


def mlp_loss(params, x, y):
    h = jnp.tanh(x @ params["l1"]["kernel"] + params["l1"]["bias"])
    return jnp.mean((h @ params["l2"]["kernel"] - y) ** 2)


def mlp_problem():
    keys = jax.random.split(jax.random.key(5), 4)
    theta = {
        "l1": {"kernel": 0.5 * jax.random.normal(keys[0], (3, 8)), "bias": jnp.zeros(8)},
        "l2": {"kernel": 0.5 * jax.random.normal(keys[1], (8, 2))},
    }
    x = jax.random.normal(keys[2], (16, 3))
    y = jax.random.normal(keys[3], (16, 2))
    return theta, x, y


def run(opt, loss, params, steps=20):
    def step(carry, _):
        p, s = carry
        u, s = opt.update(jax.grad(loss)(p), s, p)
        p = optax.apply_updates(p, u)
        return (p, s), p

    return jax.lax.scan(step, (params, opt.init(params)), None, steps)[1]


def test_reparametrised_loss_and_optax_syre_follow_the_same_trajectory():
    theta, x, y = mlp_problem()
    wd, key, eps = 0.2, jax.random.key(7), 0.05
    removal = remove_symmetry(key, theta, scale=0.3, anisotropy=eps)
    opt = optax.chain(optim.syre(wd, key, scale=0.3, anisotropy=eps), optax.sgd(0.1))

    @jax.jit
    def both(theta):
        loss_theta = lambda t: mlp_loss(removal.apply(t), x, y) + removal.penalty(t, wd)  # noqa: E731
        effective = jax.vmap(removal.apply)(run(optax.sgd(0.1), loss_theta, theta))
        return effective, run(opt, lambda q: mlp_loss(q, x, y), removal.apply(theta))

    effective, phis = both(theta)
    for a, b in zip(jax.tree.leaves(effective), jax.tree.leaves(phis)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_decoupled_forms_agree_adamw_on_theta_equals_syre_adamw_on_phi():
    theta, x, y = mlp_problem()
    wd, key = 0.1, jax.random.key(8)
    removal = remove_symmetry(key, theta, scale=0.3)

    @jax.jit
    def both(theta):
        loss_theta = lambda t: mlp_loss(removal.apply(t), x, y)  # noqa: E731
        effective = jax.vmap(removal.apply)(run(optax.adamw(0.01, weight_decay=wd), loss_theta, theta))
        opt = optim.syre_adamw(0.01, wd, key=key, scale=0.3)
        return effective, run(opt, lambda q: mlp_loss(q, x, y), removal.apply(theta))

    effective, phis = both(theta)
    for a, b in zip(jax.tree.leaves(effective), jax.tree.leaves(phis)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(wd=st.floats(0.0, 1.0), seed=st.integers(0, 2**31 - 1))
def test_syre_is_linear_in_weight_decay(wd, seed):
    params = {"w": jax.random.normal(jax.random.key(seed), (5, 4))}
    grads = {"w": jnp.zeros((5, 4))}
    key = jax.random.key(seed)
    unit, _ = optim.syre(1.0, key).update(grads, optim.syre(1.0, key).init(params), params)
    scaled, _ = optim.syre(wd, key).update(grads, optim.syre(wd, key).init(params), params)
    np.testing.assert_allclose(scaled["w"], wd * unit["w"], rtol=1e-5, atol=1e-7)


def test_decay_toward():
    params = params_tree()
    grads = grads_like(params, 0.0)
    zeros = jax.tree.map(jnp.zeros_like, params)
    ours = optim.decay_toward(0.2, zeros)
    theirs = optax.add_decayed_weights(0.2)
    a, _ = ours.update(grads, ours.init(params), params)
    b, _ = theirs.update(grads, theirs.init(params), params)
    np.testing.assert_allclose(a["dense"]["kernel"], b["dense"]["kernel"])
    anchor = {"dense": {"kernel": jnp.ones((4, 3)), "bias": None}, "steps": None}
    opt = optim.decay_toward(0.5, anchor)
    updates, state = opt.update(grads, opt.init(params), params)
    np.testing.assert_allclose(updates["dense"]["kernel"], 0.5 * (params["dense"]["kernel"] - 1.0))
    np.testing.assert_array_equal(updates["dense"]["bias"], 0.0)
    offsets = remove_symmetry(KEY, params).offsets
    via_offsets, _ = optim.decay_toward(0.5, offsets).update(grads, optim.decay_toward(0.5, offsets).init(params), params)
    via_syre, _ = optim.syre(0.5, KEY).update(grads, optim.syre(0.5, KEY).init(params), params)
    np.testing.assert_array_equal(via_offsets["dense"]["kernel"], via_syre["dense"]["kernel"])


def test_decay_toward_checks_the_anchor():
    params = {"a": jnp.ones(3), "b": jnp.ones(2)}
    with pytest.raises(ValueError, match="anchor"):
        optim.decay_toward(0.1, {"a": jnp.ones(3)}).init(params)
    with pytest.raises(ValueError, match=r"anchor\['b'\] must have shape \(2,\)"):
        optim.decay_toward(0.1, {"a": jnp.ones(3), "b": jnp.ones(5)}).init(params)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: optim.syre(-0.1, KEY), "weight_decay"),
        (lambda: optim.syre(0.1, KEY, scale=-1.0), "scale"),
        (lambda: optim.syre(0.1, KEY, anisotropy=1.5), "anisotropy"),
        (lambda: optim.syre(0.1, KEY, anisotropy=-0.5), "anisotropy"),
        (lambda: optim.syre_adamw(1e-3, -1e-4, key=KEY), "weight_decay"),
        (lambda: optim.decay_toward(-1.0, None), "weight_decay"),
        (lambda: optim.syre(0.1, KEY, mask={"a": True}).init({"a": jnp.ones(2), "b": jnp.ones(2)}), "mask"),
        (lambda: optim.syre(0.1, KEY, regenerate=True, mask=[True]).init({"a": jnp.ones(2)}), "mask"),
        (lambda: optim.syre(0.1, KEY).update({"a": jnp.ones(2)}, optim.syre(0.1, KEY).init({"a": jnp.ones(2)})), "params"),
    ],
)
def test_bad_input_names_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_low_precision_warns_once_at_init_and_keeps_dtypes():
    params = {"w": jnp.ones((4, 4), jnp.bfloat16)}
    for regenerate in (False, True):
        opt = optim.syre(0.1, KEY, regenerate=regenerate)
        with pytest.warns(UserWarning, match="attenuated"):
            state = opt.init(params)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            updates, _ = jax.jit(opt.update)({"w": jnp.zeros((4, 4), jnp.bfloat16)}, state, params)
        assert updates["w"].dtype == jnp.bfloat16


def test_works_on_frozendict_and_nnx_state():
    frozen = FrozenDict(params_tree()["dense"])
    opt = optim.syre_adamw(1e-2, key=KEY, anisotropy=0.01)
    updates, _ = opt.update(frozen, opt.init(frozen), frozen)
    assert isinstance(optax.apply_updates(frozen, updates), FrozenDict)
    state = nnx.state(nnx.Linear(3, 2, rngs=nnx.Rngs(0)))
    lean = optim.syre_adamw(1e-2, key=KEY, regenerate=True)
    updates, _ = jax.jit(lean.update)(state, lean.init(state), state)
    new = optax.apply_updates(state, updates)
    assert jax.tree.structure(new) == jax.tree.structure(state)


@pytest.mark.parametrize("regenerate", [False, True])
def test_syre_on_python_float_leaves(regenerate):
    params = {"w": jnp.ones((2, 2)), "scale": 1.0}
    opt = optim.syre(0.1, KEY, regenerate=regenerate)
    updates, _ = opt.update({"w": jnp.zeros((2, 2)), "scale": 0.0}, opt.init(params), params)
    theta0 = remove_symmetry(KEY, params).offsets["scale"]
    np.testing.assert_allclose(updates["scale"], 0.1 * (1.0 - theta0), rtol=1e-6)
