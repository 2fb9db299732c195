"""Smoke tests of benchmarks/: the suite's modules import and a tiny G-conv comparison runs (no timing claims)."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the Flax modules defined there are dataclasses
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["suite", "bench_gconv", "bench_syre", "bench_escnn", "bench_approx", "bench_cpu_conv"])
def test_benchmark_modules_import(name):
    module = _load(name)
    assert callable(module.run)


def test_suite_lists_every_part():
    assert _load("suite").PARTS == ("bench_gconv", "bench_syre", "bench_escnn", "bench_approx", "bench_cpu_conv")


def test_gconv_tiny_run_is_json_ready(capsys):
    bench = _load("bench_gconv")
    result = bench.run(tiny=True)
    assert json.loads(json.dumps(result)) == result
    assert result["config"]["mode"] == "tiny"
    (row,) = result["results"]
    assert (row["group"], row["channels"], row["size"], row["batch"], row["layers"]) == ("C4", 8, 8, 2, 2)
    for what in ("train", "forward", "compile", "build"):
        assert set(row[what]) >= {"ratio"} and row[what]["ratio"] > 0
    assert row["memory_train"]["symjax_bytes"]["peak"] > 0
    bench._print(result)
    assert "p4" in capsys.readouterr().out


def test_gconv_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="dtype"):
        _load("bench_gconv").run(tiny=True, dtype="float16")


def test_cpu_conv_ops_are_the_layer_and_its_gradients():
    import jax
    import jax.numpy as jnp

    ops = _load("bench_cpu_conv")._ops()
    x, w, dy = jnp.ones((2, 5, 5, 3)), jnp.ones((3, 3, 3, 4)), jnp.ones((2, 5, 5, 4))
    assert ops["forward"](x, w, dy).shape == dy.shape
    assert ops["input_grad"](x, w, dy).shape == x.shape
    grad_w = jax.grad(lambda w: jnp.sum(ops["forward"](x, w, dy) * dy))(w)
    assert jnp.allclose(ops["weight_grad"](x, w, dy), grad_w)


def test_approx_errors_exact_for_c4_and_bounded_for_c8():
    bench = _load("bench_approx")
    exact = bench.errors(bench.GROUPS["C4"], 3, 9, smooth=False)
    approx = bench.errors(bench.GROUPS["C8"], 3, 9, smooth=True)
    assert exact.shape == (4,) and exact.max() < 1e-5
    assert approx.shape == (8,) and approx[::2].max() < 1e-5 and 1e-3 < approx[1::2].min() < approx.max() < 1.0
