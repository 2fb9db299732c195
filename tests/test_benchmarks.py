"""Smoke tests of the benchmarks: symjax.bench runs from an installed package, the scripts of benchmarks/ call it.

No timing claims: the tiny runs check that every part runs and returns JSON-ready results.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax import bench, cli, functional as F
from symjax.bench import approx, cpu_conv, gconv, syre
from symjax.geometry import disc_mask

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
SCRIPTS = ["suite", "bench_gconv", "bench_syre", "bench_escnn", "bench_approx", "bench_cpu_conv"]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the Flax modules defined there are dataclasses
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_scripts_import(name):
    assert callable(_load(name).run)


def test_suite_lists_every_part():
    assert _load("suite").PARTS == bench.PARTS == ("bench_gconv", "bench_syre", "bench_escnn", "bench_approx",
                                                   "bench_cpu_conv", "bench_steerable")
    assert set(bench.CORE) == set(bench.PARTS) - {"bench_escnn"}


def test_scripts_run_the_package_parts():
    assert _load("bench_gconv").run is gconv.run and _load("bench_syre").run is syre.run
    assert _load("bench_approx").errors is approx.errors and _load("bench_cpu_conv").ops is cpu_conv.ops


def test_escnn_is_found_in_the_checkout_only(tmp_path):
    assert bench.checkout_escnn().__name__ == "symjax_benchmarks_bench_escnn"
    reason = bench.checkout_escnn(tmp_path / "benchmarks" / "bench_escnn.py")
    assert "needs the repository checkout" in reason and str(tmp_path) in reason


def test_bench_runs_from_an_installed_package(tmp_path):
    """`symjax bench` with the package copied as a wheel installs it (no benchmarks/ beside it), cwd elsewhere.

    It failed before the parts moved into symjax.bench ("needs the repository checkout"). The G-conv and approx
    parts run in-process below; here syre and the CPU convolutions, tiny (seconds).
    """
    site, cwd = tmp_path / "site-packages", tmp_path / "elsewhere"
    shutil.copytree(REPO / "symjax", site / "symjax", ignore=shutil.ignore_patterns("__pycache__"))
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    command = ["bench", "--tiny", "--parts", "syre,escnn,cpu_conv", "--json", "out.json"]
    proc = subprocess.run([sys.executable, "-m", "symjax.cli", *command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads((cwd / "out.json").read_text())
    assert set(out) == {"bench_syre", "bench_escnn", "bench_cpu_conv", "machine"}
    escnn = out["bench_escnn"]["skipped"]
    assert "needs the repository checkout" in escnn and str(site) in escnn  # the copy ran, not the checkout
    assert "escnn comparison skipped" in proc.stdout
    assert set(out["bench_syre"]["train_step"]["over_adamw"]) == {"adamw", "syre_adamw", "syre_adamw_regenerate"}
    assert out["bench_syre"]["config"]["widths"] == list(syre.TINY_WIDTHS)
    assert "skipped" in out["bench_cpu_conv"] or {r["op"] for r in out["bench_cpu_conv"]["rows"]} == set(
        cpu_conv.ops())
    assert "syre_adamw_regenerate" in proc.stdout


def test_bench_rejects_unknown_parts(capsys):
    with pytest.raises(SystemExit, match="--parts takes gconv, syre, escnn, approx, cpu_conv, steerable; got fast"):
        cli.main(["bench", "--parts", "syre,fast"])
    with pytest.raises(ValueError, match="parts must be names from"):
        bench.run(parts=["fast"])


def test_gconv_tiny_run_is_json_ready(capsys):
    result = gconv.run(tiny=True)
    assert json.loads(json.dumps(result)) == result
    assert result["config"]["mode"] == "tiny"
    (row,) = result["results"]
    assert (row["group"], row["channels"], row["size"], row["batch"], row["layers"]) == ("C4", 8, 8, 2, 2)
    for what in ("train", "forward", "compile", "build"):
        assert set(row[what]) >= {"ratio"} and row[what]["ratio"] > 0
    assert row["memory_train"]["symjax_bytes"]["peak"] > 0
    gconv.print_results(result)
    assert "p4" in capsys.readouterr().out


def test_gconv_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="dtype"):
        gconv.run(tiny=True, dtype="float16")


def test_syre_state_bytes_count_every_leaf():
    params = {"dense_0": {"kernel": jnp.ones((4, 3)), "bias": jnp.zeros(3)}}
    states = {name: jax.jit(opt.init)(params) for name, opt in syre.optimizers(jax.random.key(1)).items()}
    adamw = syre.state_bytes(states["adamw"])
    assert adamw >= 2 * 4 * 15  # two moments of 15 float32
    assert syre.state_bytes(states["syre_adamw"]) >= adamw + 4 * 15  # and the anchor
    assert syre.state_bytes(states["syre_adamw_regenerate"]) < adamw + 4 * 15  # a key instead of the anchor


class CpuConvOpsTest(chex.TestCase):
    """The three timed ops are the layer and its gradients, with and without jit."""

    @chex.variants(with_jit=True, without_jit=True)
    def test_ops_are_the_layer_and_its_gradients(self):
        ops = {name: self.variant(fn) for name, fn in cpu_conv.ops().items()}
        x, w, dy = jnp.ones((2, 5, 5, 3)), jnp.ones((3, 3, 3, 4)), jnp.ones((2, 5, 5, 4))
        chex.assert_shape(ops["forward"](x, w, dy), dy.shape)
        chex.assert_shape(ops["input_grad"](x, w, dy), x.shape)
        grad_w = jax.grad(lambda w: jnp.sum(cpu_conv.ops()["forward"](x, w, dy) * dy))(w)
        chex.assert_trees_all_close(ops["weight_grad"](x, w, dy), grad_w, rtol=1e-5)


def test_undisced_kernels_of_a_disc_kernel_are_the_library_kernels():
    G = approx.GROUPS["C8"]
    rng = np.random.default_rng(0)
    k1 = jnp.asarray(rng.standard_normal((5, 5, 2, 3)), jnp.float32)
    k2 = jnp.asarray(rng.standard_normal((5, 5, 3, 8, 2)), jnp.float32)
    mask = jnp.asarray(disc_mask(5, 5))
    masked = approx.undisced_kernels(k1 * mask[:, :, None, None], k2 * mask[:, :, None, None, None], G)
    chex.assert_trees_all_close(masked, (F.lift_kernel(k1, G), F.group_kernel(k2, G)), atol=1e-6)


def test_approx_errors_exact_for_c4_and_bounded_for_c8():
    exact = approx.errors(approx.GROUPS["C4"], 3, 9, smooth=False)
    rough = approx.errors(approx.GROUPS["C8"], 3, 9, smooth=True, disc=False)
    smooth = approx.errors(approx.GROUPS["C8"], 3, 9, smooth=True)
    chex.assert_shape([exact, rough, smooth], [(4,), (8,), (8,)])
    assert exact.max() < 1e-5
    # the off-grid elements (45 + k*90 degrees) are one error by the exact C4 symmetry: equal up to rounding
    assert smooth[::2].max() < 1e-5 and 1e-3 < smooth[1::2].min() <= smooth.max() < 1.0
    assert rough[::2].max() < 1e-5 and smooth.max() < rough.max()  # the disc mask helps on smooth inputs
