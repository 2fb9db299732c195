"""Approximate rotations: measured equivariance error of C_n / D_n convolutions against n, kernel and image size.

A lifting conv, ReLU and a group conv (random He-scaled kernels, 4 channels)
are applied to an image and to each of its transforms ``on_image(G, g, x)``;
the error for element ``g`` is the relative L2 distance
``|f(T_g x) - T'_g f(x)| / |f(x)|`` inside the inscribed disc of the output
(``symmetry.equivariance_error`` with ``norm="l2"`` and the disc as ``mask``;
the input is zero outside that disc, so no content leaves the frame under
rotation). We report its max and mean over all elements, for two inputs
(white noise, and noise blurred with a Gaussian of sigma 1.5 pixels) and with
and without the inscribed-disc mask on the kernel parameters (the default in
symjax). C4 and D4 are exact and serve as the reference.

These are errors, not timings: they do not depend on the machine.

    python -m symjax.bench.approx [--quick] [--tiny] [--json FILE]

(``benchmarks/bench_approx.py`` in the repository runs the same command line.)

>>> e = errors(GROUPS["C4"], 3, 7, smooth=False)
>>> e.shape, bool(e.max() < 1e-5)  # C4 is exact on the grid: float rounding only
((4,), True)
"""
from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from symjax import actions, groups, symmetry
from symjax import functional as F
from symjax.bench.script import script_main
from symjax.geometry import EquivarianceWarning, disc_mask, interpolation_matrix, regular_index

__all__ = ["GROUPS", "errors", "undisced_kernels", "run", "print_results", "main"]

GROUPS = {"C4": groups.cyclic(4), "C8": groups.cyclic(8), "C16": groups.cyclic(16), "D4": groups.dihedral(4),
          "D8": groups.dihedral(8)}
CHANNELS = 4
SIGMA = 1.5


def _image(size: int, smooth: bool) -> jax.Array:
    x = np.random.default_rng(0).standard_normal((1, size, size, 1)).astype(np.float32)
    if smooth:
        g = np.exp(-np.arange(-3, 4) ** 2 / (2 * SIGMA ** 2))
        g = (np.outer(g, g) / np.outer(g, g).sum()).astype(np.float32)
        x = np.asarray(jax.lax.conv_general_dilated(x, g[:, :, None, None], (1, 1), "SAME",
                                                    dimension_numbers=("NHWC", "HWIO", "NHWC")))
    return jnp.asarray(x * disc_mask(size, size, margin=1)[None, :, :, None])


def undisced_kernels(k1: jax.Array, k2: jax.Array, G: groups.FiniteGroup) -> tuple[jax.Array, jax.Array]:
    """The lifting and group kernels of ``G`` expanded by interpolation over every tap, corners included.

    :func:`symjax.functional.lift_kernel` and :func:`symjax.functional.group_kernel`
    read only the taps in the kernel's inscribed disc; this is the same bilinear
    expansion without that mask, the ``_nodisc`` columns of :func:`run`.

    Args:
      k1: lifting kernel ``(k, k, cin, cout)``.
      k2: group kernel ``(k, k, cin, |G|, cout)``.
      G: a group of 2x2 matrices.

    Returns:
      ``(k, k, cin, cout * |G|)`` and ``(k, k, cin * |G|, cout * |G|)``, laid out as
      :func:`symjax.functional.lift_kernel` and :func:`symjax.functional.group_kernel`.

    >>> import jax.numpy as jnp
    >>> a, b = undisced_kernels(jnp.ones((3, 3, 1, 2)), jnp.ones((3, 3, 2, 8, 2)), GROUPS["C8"])
    >>> a.shape, b.shape
    ((3, 3, 1, 16), (3, 3, 16, 16))
    """
    k, n = k1.shape[0], G.order
    weights = jnp.asarray(np.stack([interpolation_matrix(m, k, k) for m in G.matrices]), jnp.float32)
    lift = jnp.einsum("hpq,qio->pioh", weights, k1.reshape(k * k, *k1.shape[2:]))
    cin, cout = k2.shape[2], k2.shape[4]
    permuted = k2.reshape(k * k, cin, n, cout)[:, :, regular_index(G)]  # (P, cin, n_h, n_k, cout): h^-1 k
    group = jnp.einsum("hpq,qchko->pckoh", weights, permuted)
    return lift.reshape(k, k, k1.shape[2], -1), group.reshape(k, k, cin * n, cout * n)


def errors(G: groups.FiniteGroup, k: int, size: int, smooth: bool, disc: bool = True) -> np.ndarray:
    """Per-element relative L2 equivariance error of lifting -> ReLU -> group conv (see the module docstring)."""
    rng = np.random.default_rng(1)
    k1 = jnp.asarray(rng.standard_normal((k, k, 1, CHANNELS)) * np.sqrt(2 / (k * k)), jnp.float32)
    k2 = jnp.asarray(rng.standard_normal((k, k, CHANNELS, G.order, CHANNELS))
                     * np.sqrt(2 / (k * k * CHANNELS * G.order)), jnp.float32)
    exact = actions.is_exact_on_grid(G)

    def conv(x, kernel):
        y = jax.lax.conv_general_dilated(x.reshape(x.shape[:3] + (-1,)), kernel, (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y.reshape(y.shape[:-1] + (-1, G.order))

    def f(x, k1, k2):
        if exact or disc:
            return F.group_conv(jax.nn.relu(F.lifting_conv(x, k1, G)), k2, G)
        lift, group = undisced_kernels(k1, k2, G)
        return conv(jax.nn.relu(conv(x, lift)), group)

    mask = disc_mask(size, size, margin=1)[None, :, :, None, None]

    @jax.jit
    def run(x, k1, k2):
        return symmetry.equivariance_error(lambda x: f(x, k1, k2), G, x, actions.on_image, actions.on_group_image,
                                           norm="l2", mask=mask, reduce=None)

    with jax.default_matmul_precision("highest"), warnings.catch_warnings():
        warnings.simplefilter("ignore", EquivarianceWarning)  # C8/D8 are approximate by design: that is the measure
        return np.asarray(run(_image(size, smooth), k1, k2))


def run(quick: bool = False, tiny: bool = False) -> dict:
    """Measures every configuration; returns ``{"config": ..., "rows": [...]}``.

    Args:
      quick: C4, C8, D8; kernels 3 and 5; 15x15 images.
      tiny: C4 and C8, 3x3 kernels, 9x9 images (a smoke test).
    """
    names = ("C4", "C8") if tiny else ("C4", "C8", "D8") if quick else ("C4", "D4", "C8", "C16", "D8")
    kernels = (3,) if tiny else (3, 5) if quick else (3, 5, 7)
    sizes = (9,) if tiny else (15,) if quick else (15, 33)
    rows = []
    for name in names:
        G = GROUPS[name]
        for k in kernels:
            for size in sizes:
                row = dict(group=name, kernel=k, size=size)
                for smooth in (False, True):
                    for disc in ((True,) if actions.is_exact_on_grid(G) else (True, False)):
                        e = errors(G, k, size, smooth, disc)
                        key = ("smooth" if smooth else "noise") + ("" if disc else "_nodisc")
                        row[key] = dict(max=float(e.max()), mean=float(e.mean()))
                rows.append(row)
    return dict(config=dict(channels=CHANNELS, sigma=SIGMA, backend=jax.default_backend(),
                            metric="relative L2 error in the inscribed disc, over all elements"), rows=rows)


def print_results(results: dict) -> None:
    """Print the results of :func:`run` as a table: max / mean error over the elements, per input and mask."""
    cfg = results["config"]
    print(f"lifting -> ReLU -> group conv, {cfg['channels']} channels, {cfg['metric']}; "
          f"max / mean over elements ({cfg['backend']})")
    cols = ("noise", "noise_nodisc", "smooth", "smooth_nodisc")
    print(f"{'group':<6}{'kernel':>7}{'size':>6}" + "".join(f"{c:>20}" for c in cols))
    for r in results["rows"]:
        cells = "".join(f"{r[c]['max']:.2g} / {r[c]['mean']:.2g}".rjust(20) if c in r else f"{'-':>20}"
                        for c in cols)
        print(f"{r['group']:<6}{r['kernel']:>7}{r['size']:>6}{cells}")


def main(argv: list[str] | None = None) -> dict:
    """The command line (``[--quick] [--tiny] [--json FILE]``); returns :func:`run`'s dict."""
    return script_main(run, print_results, __doc__, "fewer groups, kernel and image sizes", argv)


if __name__ == "__main__":
    main()
