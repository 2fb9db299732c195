"""Steerable C_n / D_n convolutions: off-grid invariance, construction time, train step against a plain conv.

Three measurements of issue 13's targets, each in this one process:

- ``offgrid``: a random 4-layer C_n regular-field network (lifting conv 7x7,
  three 5x5 group convs, ReLU, group max-pool, mean over a central disc) on
  smooth analytic images (:func:`symjax.symmetry.gaussian_blobs`) sampled
  exactly at the rotated positions; the relative invariance error
  (:func:`symjax.symmetry.offgrid_equivariance`), averaged over the elements
  off the pixel grid, and its maximum over the elements on it (multiples of
  90 degrees), for each kernel construction the layers offer (``bilinear``:
  the kernel rotated by interpolation; ``steerable``: the steerable basis),
  averaged over initialisation seeds.
- ``build``: a D16 regular-field network (lifting conv 7x7, five 5x5 group
  convs, 8 fields) built by an eager ``init``, first call in this process
  (the kernel basis is solved then) and second call.
- ``train``: the train step (forward, backward, Adam) of C8, D8 and C16
  networks against a plain ``flax.linen.Conv`` network with the same kernels
  and ``C x |G|`` channels: warmed up, interleaved with alternating order,
  medians and the spread (interquartile range) of the ratio.

The digits experiment (accuracy per rotation angle) needs scikit-learn and lives
in the repository: ``benchmarks/bench_steerable.py`` runs this module and
``examples/rotated_digits_c8.py``.

    python -m symjax.bench.steerable [--quick] [--tiny] [--json FILE]

>>> kinds = kernel_kinds()
>>> "bilinear" in kinds
True
"""
from __future__ import annotations

import dataclasses
import statistics
import time
import warnings

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from symjax import groups, nn as snn, symmetry, xla
from symjax.bench.script import script_main
from symjax.bench.timing import interleaved
from symjax.geometry import EquivarianceWarning, disc_mask

__all__ = ["GROUPS", "InvariantNet", "PlainNet", "kernel_kinds", "offgrid", "build_time", "train_step", "run",
           "print_results", "main"]

GROUPS = {"C4": groups.cyclic(4), "C8": groups.cyclic(8), "C16": groups.cyclic(16), "D8": groups.dihedral(8),
          "D16": groups.dihedral(16)}
CLASSES = 10


def kernel_kinds() -> dict[str, dict]:
    """The kernel constructions of ``LiftingConv``/``GroupConv`` for groups off the grid: name -> layer keywords.

    ``bilinear`` (the kernel rotated by interpolation) always; ``steerable``
    (the steerable basis) when the layers take the ``basis`` option.
    """
    if "basis" in {f.name for f in dataclasses.fields(snn.GroupConv)}:
        return {"bilinear": {"basis": "bilinear"}, "steerable": {"basis": "steerable"}}
    return {"bilinear": {}}


class InvariantNet(fnn.Module):
    """Lifting conv, ``layers - 1`` group convs, ReLU, group max-pool, mean over the central disc: ``(N, fields)``."""

    group: groups.FiniteGroup
    fields: int
    layers: int = 4
    lift_kernel: int = 7
    kernel: int = 5
    margin: float = 8.0
    options: tuple = ()

    @fnn.compact
    def __call__(self, x):
        kw = dict(self.options)
        f = fnn.relu(snn.LiftingConv(self.group, self.fields, kernel_size=self.lift_kernel, **kw)(x))
        for i in range(self.layers - 1):
            f = snn.GroupConv(self.group, self.fields, kernel_size=self.kernel, **kw)(f)
            if i < self.layers - 2:
                f = fnn.relu(f)
        pooled = snn.GroupPool("max")(f)
        disc = jnp.asarray(disc_mask(x.shape[1], x.shape[2], margin=self.margin), pooled.dtype)[:, :, None]
        return jnp.sum(pooled * disc, axis=(1, 2)) / jnp.sum(disc)


class PlainNet(fnn.Module):
    """The same shape with ``flax.linen.Conv`` and ``channels`` channels; max over blocks of ``order`` channels."""

    channels: int
    order: int
    layers: int = 4
    lift_kernel: int = 7
    kernel: int = 5

    @fnn.compact
    def __call__(self, x):
        for i in range(self.layers):
            k = self.lift_kernel if i == 0 else self.kernel
            x = fnn.Conv(self.channels, (k, k))(x)
            if i < self.layers - 1:
                x = fnn.relu(x)
        x = x.reshape(x.shape[:-1] + (-1, self.order)).max(axis=-1)
        return fnn.Dense(CLASSES)(x.mean(axis=(1, 2)))


class _Classifier(fnn.Module):
    group: groups.FiniteGroup
    fields: int
    options: tuple = ()

    @fnn.compact
    def __call__(self, x):
        return fnn.Dense(CLASSES)(InvariantNet(self.group, self.fields, margin=0.0, options=self.options)(x))


def offgrid(name: str, kind: str, size: int = 33, fields: int = 4, seeds: int = 3) -> dict:
    """Invariance error of :class:`InvariantNet` on exactly rotated analytic images, over initialisation seeds.

    Returns:
      ``{"offgrid_mean", "offgrid_seeds", "ongrid_max", "per_angle"}``: the mean
      over the off-grid elements (averaged over seeds, and per seed), the
      largest on-grid error, and the per-element errors averaged over seeds
      keyed by angle in degrees.
    """
    G = GROUPS[name]
    model = InvariantNet(G, fields, options=tuple(kernel_kinds()[kind].items()))
    x = jnp.zeros((1, size, size, 1))
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EquivarianceWarning)  # the bilinear kernels are approximate: the measure
        for seed in range(seeds):
            variables = model.init(jax.random.key(seed), x)
            apply = jax.jit(lambda x, variables=variables: model.apply(variables, x))
            results.append(symmetry.offgrid_equivariance(apply, G, size=size))
    errors = np.mean([r.errors for r in results], axis=0)
    return {"offgrid_mean": float(np.mean([r.offgrid_mean() for r in results])),
            "offgrid_seeds": [r.offgrid_mean() for r in results],
            "ongrid_max": float(max(r.ongrid_max() for r in results)),
            "per_angle": {f"{a:g}{'f' if flip else ''}": float(e)
                          for a, flip, e in zip(results[0].angles, results[0].reflections, errors)}}


def build_time(name: str = "D16", fields: int = 8, layers: int = 6, size: int = 28, kind: str | None = None) -> dict:
    """Seconds of an eager ``init`` of a regular-field network (lifting 7x7, 5x5 group convs), first and second call.

    Wall-clock and process CPU time (steadier when other jobs share the machine);
    the first call solves the kernel basis and warms JAX up.
    """
    G = GROUPS[name]
    kind = kind or ("steerable" if "steerable" in kernel_kinds() else "bilinear")
    model = InvariantNet(G, fields, layers=layers, margin=0.0, options=tuple(kernel_kinds()[kind].items()))
    x = jnp.zeros((1, size, size, 1))
    times, cpu = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EquivarianceWarning)
        for seed in range(2):
            start, start_cpu = time.perf_counter(), time.process_time()
            jax.block_until_ready(model.init(jax.random.key(seed), x))
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return {"group": name, "kernel": kind, "fields": fields, "layers": layers, "first_s": times[0],
            "second_s": times[1], "first_cpu_s": cpu[0], "second_cpu_s": cpu[1]}


def _step(model, optimizer):
    def loss_fn(params, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(model.apply({"params": params}, x), y).mean()

    @xla.jit
    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def train_step(name: str, kind: str, channels: int = 32, size: int = 28, batch: int = 16, reps: int = 20) -> dict:
    """Train-step time of the group network (``channels // |G|`` fields) against :class:`PlainNet`: medians, ratio."""
    G = GROUPS[name]
    models = {"symjax": _Classifier(G, channels // G.order, tuple(kernel_kinds()[kind].items())),
              "plain": PlainNet(channels, G.order)}
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((batch, size, size, 1)), jnp.float32)
    y = jnp.asarray(rng.integers(0, CLASSES, batch))
    optimizer = optax.adam(1e-3)
    state, steps = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EquivarianceWarning)
        for key, model in models.items():
            params = model.init(jax.random.key(0), x)["params"]
            state[key], steps[key] = [params, optimizer.init(params)], _step(model, optimizer)

        def go(key):
            def call():
                params, opt_state, loss = steps[key](*state[key], x, y)
                state[key] = [params, opt_state]
                return loss
            return call

        for _ in range(3):  # compile and settle
            go("symjax")(), go("plain")()
        ts, tp = interleaved(go("symjax"), go("plain"), reps)
    ratios = sorted(a / b for a, b in zip(ts, tp))
    q1, q3 = np.percentile(ratios, [25, 75])
    return {"group": name, "kernel": kind, "fields": channels // G.order, "channels": channels,
            "symjax_ms": 1e3 * statistics.median(ts), "plain_ms": 1e3 * statistics.median(tp),
            "ratio": statistics.median(ts) / statistics.median(tp), "ratio_iqr": [float(q1), float(q3)],
            "reps": reps}


def run(quick: bool = False, tiny: bool = False) -> dict:
    """All three measurements; a JSON-ready dict.

    Args:
      quick: two seeds for the off-grid error, fewer train-step repetitions.
      tiny: a seconds-long smoke run on small sizes (not a measurement).
    """
    kinds = kernel_kinds()

    def progress(what, result):
        print(f"  measured {what}: {result}", flush=True)
        return result

    if tiny:
        off = {(n, k): offgrid(n, k, size=13, fields=1, seeds=1) for n in ("C8",) for k in kinds}
        build = build_time("C8", fields=1, layers=2, size=9)
        train = [train_step("C8", k, channels=8, size=9, batch=2, reps=2) for k in kinds]
    else:
        seeds, reps = (2, 10) if quick else (4, 30)
        build = progress("build", build_time())
        off = {(n, k): progress(f"off-grid {n} {k}", offgrid(n, k, seeds=seeds)) for n in ("C8", "C16") for k in kinds}
        train = [progress(f"train {n} {k}", train_step(n, k, reps=reps)) for n in ("C8", "D8", "C16") for k in kinds]
    return {"benchmark": "steerable", "backend": jax.default_backend(), "device": str(jax.devices()[0]),
            "jax": jax.__version__, "mode": "tiny" if tiny else "quick" if quick else "full",
            "offgrid": [{"group": n, "kernel": k, **v} for (n, k), v in off.items()],
            "build": build, "train": train}


def print_results(results: dict) -> None:
    """Print the results of :func:`run` as three tables."""
    print(f"steerable convolutions ({results['mode']}, {results['device']})")
    print("off-grid invariance error (4-layer regular-field net, analytic inputs, mean over off-grid elements; "
          "max on the grid)")
    for r in results["offgrid"]:
        seeds = ", ".join(f"{e:.2e}" for e in r["offgrid_seeds"])
        print(f"  {r['group']:<4} {r['kernel']:<10} off-grid {r['offgrid_mean']:.2e} (seeds {seeds})  "
              f"on-grid max {r['ongrid_max']:.1e}")
    b = results["build"]
    print(f"eager init of a {b['group']} net ({b['layers']} layers, {b['fields']} fields, {b['kernel']} kernels): "
          f"first {b['first_s']:.2f} s, second {b['second_s']:.2f} s (process CPU time: first "
          f"{b['first_cpu_s']:.2f} s, second {b['second_cpu_s']:.2f} s)")
    print("train step vs plain conv of C x |G| channels (median ms; ratio median [IQR of per-pair ratios])")
    for t in results["train"]:
        print(f"  {t['group']:<4} {t['kernel']:<10} {t['fields']} fields: {t['symjax_ms']:8.2f} ms vs "
              f"{t['plain_ms']:8.2f} ms, ratio {t['ratio']:.3f} [{t['ratio_iqr'][0]:.3f}, {t['ratio_iqr'][1]:.3f}]")


def main(argv: list[str] | None = None) -> dict:
    """The command line (``[--quick] [--tiny] [--json FILE]``); returns :func:`run`'s dict."""
    return script_main(run, print_results, __doc__, "two seeds, fewer repetitions", argv)


if __name__ == "__main__":
    main()
