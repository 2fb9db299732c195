"""Steerable C_n / D_n convolutions: off-grid invariance, construction time, train step against a plain conv.

The measurements of issue 13's targets, each in this one process:

- ``offgrid``: a random 4-layer C_n regular-field network (lifting conv 7x7,
  three 5x5 group convs, ReLU, group max-pool, mean over a central disc) on
  smooth analytic images (:func:`symjax.symmetry.gaussian_blobs`) sampled
  exactly at the rotated positions; the relative invariance error
  (:func:`symjax.symmetry.offgrid_equivariance`), averaged over the elements
  off the pixel grid, and its maximum over the elements on it (multiples of
  90 degrees), for each kernel construction the layers offer (``bilinear``:
  the kernel rotated by interpolation; ``steerable``: the steerable basis),
  averaged over initialisation seeds.
- ``bands`` (full mode): the steerable net's error for the band limits of
  :data:`BANDS`, with the disc readout and a Gaussian one (:func:`readout_window`:
  the hard disc edge is itself a quadrature error of about 1e-2 on the input), 8 seeds.
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

from symjax import functional as F, groups, nn as snn, symmetry, xla
from symjax.bench.script import script_main
from symjax.bench.timing import interleaved
from symjax.geometry import EquivarianceWarning, disc_mask

__all__ = ["GROUPS", "WINDOWS", "BANDS", "band_limit", "InvariantNet", "PlainNet", "kernel_kinds", "readout_window",
           "offgrid", "bands", "build_time", "train_step", "run",
           "print_results", "main"]

GROUPS = {"C4": groups.cyclic(4), "C8": groups.cyclic(8), "C16": groups.cyclic(16), "D8": groups.dihedral(8),
          "D16": groups.dihedral(16)}
CLASSES = 10
WINDOWS = ("disc", "gaussian")
BANDS = ("default", "escnn", "outer1", "outer0")
"""Radial profiles and band limits of the steerable basis measured here: ``default``, the layers'
(:func:`symjax.functional._steerable_rings.ring_settings`: escnn's band limit, the outer ring of a
5x5/7x7 kernel pulled in to 1.6/2.6 px with ``sigma`` 0.5); the others on escnn's rings (radii
``0, 1, ..., (k-1)//2``, ``sigma`` 0.6 inside and 0.4 on the outer ring): ``escnn``, escnn's default
band limit (``_manual_fco1``: 0 at the centre, ``min(2r, 2r - (r + 1) % 2)`` inside, 2 on the outer
ring); ``outer1``: escnn's ``_manual_fco3`` (0 at the centre, 2 inside, 1 on the outer ring);
``outer0``: 2 inside, the outer ring isotropic."""


def band_limit(band: str, kernel_size: int) -> dict | None:
    """The basis keywords (``rings``, ``sigma``, ``max_frequency``) of a band of :data:`BANDS`; ``None``: the default.

    >>> band_limit("outer1", 7)["max_frequency"], band_limit("outer0", 5)["max_frequency"]
    ((0, 2, 2, 1), (0, 2, 0))
    >>> band_limit("escnn", 5)
    {'rings': (0.0, 1.0, 2.0), 'sigma': (0.005, 0.6, 0.4), 'max_frequency': None}
    >>> band_limit("default", 5) is None
    True
    """
    if band not in BANDS:
        raise ValueError(f"band must be one of {BANDS}, got {band!r}")
    if band == "default":
        return None
    outer = kernel_size // 2
    top = None if band == "escnn" else (0,) + (2,) * (outer - 1) + ((1 if band == "outer1" else 0),)
    return {"rings": F.escnn_rings(kernel_size), "sigma": F.escnn_sigma(kernel_size), "max_frequency": top}


def readout_window(size: int, margin: float = 8.0, window: str = "disc") -> np.ndarray:
    """``(size, size)`` weights of the invariant readout: the central disc, or a Gaussian of half its radius.

    ``"disc"`` (issue 13's net): ``geometry.disc_mask(size, size, margin=margin)``, radius
    ``size / 2 - margin``. Its hard edge is a quadrature error of its own: the pixels
    inside the disc are not the rotated pixels inside it, so even the disc mean of the
    input itself changes by about 1e-2 under a 45-degree rotation (33x33 blobs). ``"gaussian"``:
    ``exp(-r^2 / (2 s^2))`` with ``s`` half that radius, a smooth window whose lattice
    sum of a smooth image is rotation-invariant to about 1e-7, so the kernels' error shows.

    >>> w = readout_window(33, window="gaussian")
    >>> w.shape, float(w[16, 16]), bool(w[16, 24] < 0.2)
    ((33, 33), 1.0, True)
    """
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")
    if window == "disc":
        return disc_mask(size, size, margin=margin).astype(np.float32)
    centre = (size - 1) / 2
    y, x = np.mgrid[:size, :size] - centre
    s = (size / 2 - margin) / 2
    return np.exp(-(x ** 2 + y ** 2) / (2 * s ** 2)).astype(np.float32)


def kernel_kinds() -> dict[str, dict]:
    """The kernel constructions of ``LiftingConv``/``GroupConv`` for groups off the grid: name -> layer keywords.

    ``bilinear`` (the kernel rotated by interpolation) always; ``steerable``
    (the steerable basis) when the layers take the ``basis`` option.
    """
    if "basis" in {f.name for f in dataclasses.fields(snn.GroupConv)}:
        return {"bilinear": {"basis": "bilinear"}, "steerable": {"basis": "steerable"}}
    return {"bilinear": {}}


class InvariantNet(fnn.Module):
    """Lifting conv, ``layers - 1`` group convs, ReLU, group max-pool, mean over the central disc: ``(N, fields)``.

    ``window="gaussian"``: a Gaussian-weighted mean instead (:func:`readout_window`); ``band`` other
    than ``"default"``: steerable kernels with that profile and band limit (:func:`band_limit`).
    """

    group: groups.FiniteGroup
    fields: int
    layers: int = 4
    lift_kernel: int = 7
    kernel: int = 5
    margin: float = 8.0
    options: tuple = ()
    window: str = "disc"
    band: str = "default"

    @fnn.compact
    def __call__(self, x):
        kw = dict(self.options)

        def conv(kind, k):  # every band through the same layers: the same parameter draws, another basis
            settings = band_limit(self.band, k) or {}
            return (snn.LiftingConv if kind == "lifting" else snn.GroupConv)(self.group, self.fields, kernel_size=k,
                                                                              **kw, **settings)

        f = fnn.relu(conv("lifting", self.lift_kernel)(x))
        for i in range(self.layers - 1):
            f = conv("group", self.kernel)(f)
            if i < self.layers - 2:
                f = fnn.relu(f)
        pooled = snn.GroupPool("max")(f)
        weights = jnp.asarray(readout_window(x.shape[1], self.margin, self.window), pooled.dtype)[:, :, None]
        return jnp.sum(pooled * weights, axis=(1, 2)) / jnp.sum(weights)


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


def offgrid(name: str, kind: str, size: int = 33, fields: int = 4, seeds: int = 3, window: str = "disc",
            band: str = "default") -> dict:
    """Invariance error of :class:`InvariantNet` on exactly rotated analytic images, over initialisation seeds.

    Args:
      name: a key of :data:`GROUPS`; kind: a key of :func:`kernel_kinds`.
      size, fields, seeds: input size, regular fields per layer, initialisation seeds ``0..seeds-1``.
      window: the readout (:func:`readout_window`); band: the band limit (:func:`band_limit`).

    Returns:
      ``{"offgrid_mean", "offgrid_median", "offgrid_seeds", "ongrid_max", "per_angle"}``: the
      mean over the off-grid elements (averaged over seeds, their median, and per seed), the
      largest on-grid error, and the per-element errors averaged over seeds
      keyed by angle in degrees.
    """
    G = GROUPS[name]
    model = InvariantNet(G, fields, options=tuple(kernel_kinds()[kind].items()), window=window, band=band)
    x = jnp.zeros((1, size, size, 1))
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EquivarianceWarning)  # the bilinear kernels are approximate: the measure
        apply = jax.jit(model.apply)  # the variables an argument: one compilation for every seed, no constant folding
        for seed in range(seeds):
            variables = model.init(jax.random.key(seed), x)
            results.append(symmetry.offgrid_equivariance(lambda x, v=variables: apply(v, x), G, size=size))
    errors = np.mean([r.errors for r in results], axis=0)
    return {"offgrid_mean": float(np.mean([r.offgrid_mean() for r in results])),
            "offgrid_median": float(np.median([r.offgrid_mean() for r in results])),
            "offgrid_seeds": [r.offgrid_mean() for r in results],
            "ongrid_max": float(max(r.ongrid_max() for r in results)),
            "per_angle": {f"{a:g}{'f' if flip else ''}": float(e)
                          for a, flip, e in zip(results[0].angles, results[0].reflections, errors)}}


def bands(names=("C8", "C16"), seeds: int = 8, windows=WINDOWS, which=BANDS) -> list[dict]:
    """:func:`offgrid` of the steerable kernels for the bands ``which`` of :data:`BANDS` and readouts ``windows``.

    The error varies 10x between initialisation seeds (a few nets with a small invariant
    output): 8 seeds, mean and median (24 for the record ``cpu_steerable_seeds24.json``).
    """
    for band in which:
        band_limit(band, 5)  # a ValueError naming an unknown band before any measurement
    return [{"group": n, "band": b, "window": w, **offgrid(n, "steerable", seeds=seeds, window=w, band=b)}
            for n in names for w in windows for b in which]


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
    """All the measurements; a JSON-ready dict.

    Args:
      quick: two seeds for the off-grid error, the train step of C8 only with fewer
        repetitions, no band-limit table (about a minute on an idle 2-core CPU).
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
        band = []
    else:
        seeds, reps = (2, 10) if quick else (8, 30)
        build = progress("build", build_time())
        off = {(n, k): progress(f"off-grid {n} {k}", offgrid(n, k, seeds=seeds)) for n in ("C8", "C16") for k in kinds}
        train = [progress(f"train {n} {k}", train_step(n, k, reps=reps))
                 for n in (("C8",) if quick else ("C8", "D8", "C16")) for k in kinds]
        band = [] if quick or "steerable" not in kinds else progress("band limits", bands())
    return {"benchmark": "steerable", "backend": jax.default_backend(), "device": str(jax.devices()[0]),
            "jax": jax.__version__, "mode": "tiny" if tiny else "quick" if quick else "full",
            "offgrid": [{"group": n, "kernel": k, **v} for (n, k), v in off.items()],
            "build": build, "train": train, "bands": band}


def print_results(results: dict) -> None:
    """Print the results of :func:`run` as tables."""
    print(f"steerable convolutions ({results['mode']}, {results['device']})")
    print("off-grid invariance error (4-layer regular-field net, analytic inputs, mean over off-grid elements; "
          "max on the grid)")
    for r in results["offgrid"]:
        seeds = ", ".join(f"{e:.2e}" for e in r["offgrid_seeds"])
        print(f"  {r['group']:<4} {r['kernel']:<10} off-grid {r['offgrid_mean']:.2e} (seeds {seeds})  "
              f"on-grid max {r['ongrid_max']:.1e}")
    if results.get("bands"):
        print("steerable band limits (8 seeds: mean, median; disc: issue 13's readout, gaussian: a smooth one)")
        for r in results["bands"]:
            print(f"  {r['group']:<4} {r['band']:<7} {r['window']:<9} off-grid mean {r['offgrid_mean']:.2e}, "
                  f"median {r['offgrid_median']:.2e}")
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
