"""symjax.xla: per-jit and process-wide options for Eigen convolutions on XLA:CPU."""
import os
import re
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from symjax import groups, xla
from symjax import functional as F


def _conv_grads(x, w):
    def loss(x, w):
        y = lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jnp.sum(jnp.tanh(y))

    return jax.grad(loss, argnums=(0, 1))(x, w)


def _library_fusions(compiled_text: str) -> set[str]:
    return set(re.findall(r'"kind":"(__[a-z]+_fusion)"', compiled_text))


@pytest.fixture
def no_user_flag(monkeypatch):
    flags = os.environ.get("XLA_FLAGS", "")
    monkeypatch.setenv("XLA_FLAGS", " ".join(f for f in flags.split() if xla.OPTION not in f))


DOTS_ONLY = {xla.OPTION: "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}
needs_option = pytest.mark.skipif(jax.default_backend() != "cpu" or not xla.accepts(DOTS_ONLY),
                                  reason="needs XLA:CPU with the YNNPACK fusion option")


@needs_option
def test_compiler_options_on_cpu(no_user_flag):
    assert xla.compiler_options() == {xla.OPTION: "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}
    assert xla.compiler_options("cpu") == xla.compiler_options()


def test_compiler_options_elsewhere_and_bad_input(no_user_flag):
    assert xla.compiler_options("gpu") == {}
    assert xla.compiler_options("tpu") == {}
    with pytest.raises(TypeError, match="backend"):
        xla.compiler_options(3)


def test_user_flag_wins(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", f"--{xla.OPTION}=individual_dot,individual_convolution")
    assert xla.compiler_options() == {}
    assert xla.configure_cpu() is True  # the user's value is in effect: left alone
    assert os.environ["XLA_FLAGS"] == f"--{xla.OPTION}=individual_dot,individual_convolution"


@needs_option
def test_jit_moves_convolutions_off_ynnpack_keeps_values(no_user_flag):
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 9, 9, 6)), jnp.float32)
    w = jnp.asarray(np.random.default_rng(1).standard_normal((3, 3, 6, 5)), jnp.float32)
    ours = xla.jit(_conv_grads)
    text = ours.lower(x, w).compile().as_text()
    assert " convolution(" in text and "__ynn_fusion" not in _library_fusions(text)
    for a, b in zip(ours(x, w), jax.jit(_conv_grads)(x, w)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@needs_option
def test_jit_keeps_ynnpack_for_matrix_products(no_user_flag):
    """Only convolutions move: YNNPACK's matrix products stay (faster than Eigen's for MLPs)."""
    f = xla.jit(lambda a, b: a @ b)
    a = jnp.ones((64, 128))
    assert "__ynn_fusion" in _library_fusions(f.lower(a, a.T).compile().as_text())


def test_jit_forms_and_explicit_options_win(no_user_flag):
    @xla.jit(static_argnums=1)
    def scale(x, k):
        return x * k

    assert float(scale(jnp.ones(()), 3)) == 3.0

    @xla.jit
    def add(x):
        return x + 1

    assert float(add(jnp.zeros(()))) == 1.0
    G = groups.cyclic(4)
    x = jnp.ones((1, 5, 5, 1))
    k = jnp.ones((3, 3, 1, 2))
    # an explicit compiler_options entry wins over ours (here: nothing to YNNPACK at all)
    f = xla.jit(lambda x, k: F.lifting_conv(x, k, G), compiler_options={xla.OPTION: ""})
    assert f(x, k).shape == (1, 5, 5, 2, 4)
    if xla.compiler_options():  # ours would keep YNNPACK for the product; the explicit "" wins
        a = jnp.ones((64, 128))
        g = xla.jit(lambda a, b: a @ b, compiler_options={xla.OPTION: ""})
        assert "__ynn_fusion" not in _library_fusions(g.lower(a, a.T).compile().as_text())


def test_configure_cpu_after_start_warns(no_user_flag):
    jnp.zeros(()).block_until_ready()  # JAX has started in this process
    with pytest.warns(RuntimeWarning, match="already started"):
        assert xla.configure_cpu() is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert xla.configure_cpu(warn=False) is False
    assert xla.OPTION not in os.environ["XLA_FLAGS"]


def test_configure_cpu_before_start_in_fresh_process():
    code = textwrap.dedent(f"""
        import os, re
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
        from symjax import xla
        assert xla.configure_cpu() is True
        assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=1 --{xla.OPTION}=individual_dot"
        import jax, jax.numpy as jnp
        from jax import lax
        f = jax.jit(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                                           dimension_numbers=("NHWC", "HWIO", "NHWC")))
        text = f.lower(jnp.ones((1, 8, 8, 4)), jnp.ones((3, 3, 4, 4))).compile().as_text()
        print("ynn" if '"kind":"__ynn_fusion"' in text else "eigen")
    """)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "eigen"


@needs_option
def test_fastest_times_both_and_matches_jit(no_user_flag):
    x = jnp.asarray(np.random.default_rng(2).standard_normal((2, 8, 8, 4)), jnp.float32)
    w = jnp.asarray(np.random.default_rng(3).standard_normal((3, 3, 4, 4)), jnp.float32)
    tuned = xla.fastest(_conv_grads, x, w, reps=2)
    assert tuned.choice in ("default", "eigen") and set(tuned.times_ms) == {"default", "eigen"}
    assert all(t > 0 for t in tuned.times_ms.values())
    for a, b in zip(tuned(x, w), jax.jit(_conv_grads)(x, w)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_fastest_single_variant_when_no_options(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", f"--{xla.OPTION}=individual_dot")  # the user decided: nothing to compare
    tuned = xla.fastest(lambda x: x * 2, jnp.ones(3))
    assert (tuned.choice, tuned.times_ms) == ("default", {})
    np.testing.assert_array_equal(tuned(jnp.ones(3)), 2 * np.ones(3))


def test_fastest_bad_input():
    with pytest.raises(ValueError, match="reps"):
        xla.fastest(lambda x: x, jnp.ones(2), reps=0)
    with pytest.raises(ValueError, match="donate_argnums"):
        xla.fastest(lambda x: x, jnp.ones(2), donate_argnums=0)


def test_accepts_known_options_refuses_unknown_ones_and_bad_input():
    assert xla.accepts({}) and not xla.accepts({"xla_no_such_option": 1})
    with pytest.raises(TypeError, match="options"):
        xla.accepts("xla_backend_optimization_level")


@pytest.mark.skipif(jax.default_backend() != "cpu" or not xla.accepts(xla.ONE_OFF), reason="needs XLA:CPU's options")
def test_one_off_options_give_the_same_numbers_up_to_float_rounding():
    draw = lambda key: jax.random.normal(key, (4096,))  # noqa: E731
    fast = jax.jit(draw, compiler_options=xla.ONE_OFF)(jax.random.key(0))
    np.testing.assert_allclose(fast, jax.jit(draw)(jax.random.key(0)), rtol=0, atol=1e-6)
