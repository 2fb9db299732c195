"""First-call eager ``init`` of a D16 regular-field net (issue 13: under 1 s), in fresh processes; init scale.

Each run is a new Python process (nothing compiled, no basis cached) that
imports symjax, makes the input, then times ``model.init`` twice (first and
second call), wall clock and process CPU time, with the XLA compilations of the
first call counted and summed (``jax.monitoring``) and the cold solve of the
kernel bases (``plan`` of the layers' field types) timed in a process of its own.
The networks:

- ``stack``: issue 13's shape: steerable lifting conv 7x7, five 5x5 group convs,
  8 regular fields, ReLU between them (``nn.LiftingConv``/``nn.GroupConv``, the
  steerable default of D16) on a 28x28 input;
- ``bench``: ``symjax.bench.steerable.InvariantNet`` with 6 layers (the same
  stack, then group max-pool and a disc mean: the network of
  ``symjax.bench.steerable.build_time``);
- ``flax``: the reference: a plain ``flax.linen.Conv`` network of the same
  kernels and ``8 x 32 = 256`` channels.

``--scale`` measures the initialisation instead: the activation scale at init of
the digits network of ``examples/rotated_digits_c8.py`` (lifting conv 5x5, ReLU,
2x2 max pool, two 5x5 group convs with ReLU, 6 fields, group max-pool, spatial
mean, a dense head with LeCun-normal weights) on 32 smooth non-negative 28x28
images (random 8x8 images upsampled, as the digits are): the rms of each layer's
output and the standard deviation of the logits, mean over init seeds, for the
exact C4 layers and the steerable C8, C16, D8, D16 ones.

    python benchmarks/bench_steerable_init.py [--runs 3] [--nets stack,bench,flax] [--json FILE]
    python benchmarks/bench_steerable_init.py --scale [--seeds 40]

Prints the median and range over the runs (the means and the ratios to C4 with
``--scale``). ``PYTHONPATH=<other checkout>`` measures another version.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import warnings

CHILD = r'''
import json, sys, time, warnings
start_import = time.process_time()
import jax, jax.numpy as jnp
import flax.linen as fnn
from symjax import groups, nn as snn
from symjax.geometry import EquivarianceWarning
import_cpu = time.process_time() - start_import
warnings.simplefilter("ignore", EquivarianceWarning)
kind, fields, size = sys.argv[1], 8, 28
D16 = groups.dihedral(16)


class Stack(fnn.Module):
    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(snn.LiftingConv(D16, fields, kernel_size=7)(x))
        for i in range(5):
            f = snn.GroupConv(D16, fields, kernel_size=5)(f)
            f = fnn.relu(f) if i < 4 else f
        return f


class Plain(fnn.Module):
    @fnn.compact
    def __call__(self, x):
        for i in range(6):
            x = fnn.Conv(fields * D16.order, (7, 7) if i == 0 else (5, 5))(x)
            x = fnn.relu(x) if i < 5 else x
        return x


if kind == "solve":
    from symjax.functional._steerable_basis import plan, ring_settings
    start = time.process_time()
    for k, rep_in in ((7, groups.Trivial(D16)), (5, groups.Regular(D16))):
        plan(rep_in, fields * groups.Regular(D16), ring_settings(k))
    print(json.dumps({"solve_cpu_s": time.process_time() - start}))
    sys.exit()
if kind == "bench":
    from symjax.bench.steerable import InvariantNet
    model = InvariantNet(D16, fields, layers=6, margin=0.0)
else:
    model = Stack() if kind == "stack" else Plain()
compiles = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, secs, **kw: compiles.append(secs) if event.endswith("backend_compile_duration") else None)
x = jax.block_until_ready(jnp.zeros((1, size, size, 1)))
key0, key1 = jax.block_until_ready((jax.random.key(0), jax.random.key(1)))
out = {"import_cpu_s": import_cpu}
for name, key in (("first", key0), ("second", key1)):
    n0 = len(compiles)
    wall, cpu = time.perf_counter(), time.process_time()
    jax.block_until_ready(model.init(key, x))
    out[name + "_s"], out[name + "_cpu_s"] = time.perf_counter() - wall, time.process_time() - cpu
    out[name + "_compiles"], out[name + "_compile_s"] = len(compiles) - n0, sum(compiles[n0:])
print(json.dumps(out))
'''


def run_once(kind: str) -> dict:
    """One fresh process: the timings of ``kind`` (``stack``, ``bench``, ``flax`` or ``solve``)."""
    done = subprocess.run([sys.executable, "-c", CHILD, kind], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(runs: list[dict]) -> dict:
    """Median, min and max over the runs of every measured quantity."""
    return {k: {"median": statistics.median(r[k] for r in runs), "min": min(r[k] for r in runs),
                "max": max(r[k] for r in runs)} for k in runs[0]}


def scale(seeds: int = 40, fields: int = 6) -> dict:
    """Mean over ``seeds`` inits of the rms of each layer's output and of the logits' std, per group."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from symjax import functional as F, groups
    from symjax.functional._steerable import regular_conv
    from symjax.geometry import EquivarianceWarning

    warnings.simplefilter("ignore", EquivarianceWarning)  # C8, C16, D8, D16: approximate off the grid
    coarse = np.random.default_rng(0).uniform(size=(32, 8, 8, 1))
    x = jax.image.resize(jnp.asarray(coarse, jnp.float32), (32, 28, 28, 1), "linear")
    results = {}
    for name, G in (("C4", groups.cyclic(4)), ("C8", groups.cyclic(8)), ("C16", groups.cyclic(16)),
                    ("D8", groups.dihedral(8)), ("D16", groups.dihedral(16))):
        lift, conv = regular_conv("lifting", G, fields, kernel_size=5), regular_conv("group", G, fields, kernel_size=5)

        @jax.jit
        def stats(key, lift=lift, conv=conv):
            keys = jax.random.split(key, 4)
            p = [{s.name: s.init(k, s.shape, s.dtype) for s in layer.param_specs(cin)}
                 for layer, k, cin in zip((lift, conv, conv), keys, (1, fields, fields))]
            f0 = lift.apply(p[0], x)
            f1 = conv.apply(p[1], F.spatial_pool(jax.nn.relu(f0), 2, "max"))
            f2 = conv.apply(p[2], jax.nn.relu(f1))
            pooled = jax.nn.relu(f2).max(-1).mean((1, 2))
            logits = pooled @ (jax.random.normal(keys[3], (fields, 10)) / np.sqrt(fields))
            rms = lambda v: jnp.sqrt(jnp.mean(v ** 2))  # noqa: E731
            return jnp.stack([rms(f0), rms(f1), rms(f2), jnp.std(logits)])

        rows = np.array([np.asarray(stats(jax.random.key(seed))) for seed in range(seeds)])
        results[name] = dict(zip(("lift", "group_1", "group_2", "logits"), rows.mean(0).tolist()))
    print(f"activation scale at init, mean over {seeds} seeds (ratio to C4): lift, group conv 1, group conv 2, logits")
    for name, r in results.items():
        print(f"{name:4s} " + "  ".join(f"{v:.3f} ({v / results['C4'][k]:.2f})" for k, v in r.items()))
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per network")
    parser.add_argument("--nets", default="stack,bench,flax", help="comma-separated: stack, bench, flax")
    parser.add_argument("--json", default=None, metavar="FILE")
    parser.add_argument("--scale", action="store_true", help="the activation scale at init instead of the time")
    parser.add_argument("--seeds", type=int, default=40, help="init seeds for --scale")
    args = parser.parse_args(argv)
    if args.scale:
        results = scale(args.seeds)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        return results
    results = {"solve": summary([run_once("solve") for _ in range(args.runs)])}
    for kind in args.nets.split(","):
        results[kind] = summary([run_once(kind) for _ in range(args.runs)])
    print(f"bases solved cold (D16, lift 7x7 + group 5x5): {results['solve']['solve_cpu_s']['median']:.3f} s CPU")
    for kind in args.nets.split(","):
        r = results[kind]
        cell = lambda k: f"{r[k]['median']:.2f} [{r[k]['min']:.2f}, {r[k]['max']:.2f}]"  # noqa: E731
        print(f"{kind:6s} first call: {cell('first_s')} s wall, {cell('first_cpu_s')} s CPU, "
              f"{r['first_compiles']['median']:.0f} compilations {cell('first_compile_s')} s; "
              f"second call: {cell('second_s')} s wall, {cell('second_cpu_s')} s CPU")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
