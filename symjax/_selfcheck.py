"""Equivariance self-check of every layer and exact group, for ``symjax check``.

Each row builds a layer, applies every group element to a random input and
reports the max relative error ``max_g |f(T_g x) - T'_g f(x)| / max|f(x)|``
(:func:`symjax.symmetry.equivariance_error`).
Known pitfalls (stride 2 on an even size, asymmetric padding, even kernel
sizes, non-square inputs with 90-degree rotations) are measured and reported
as such instead of passing silently. Groups not exact on the grid (C8, D8:
steerable kernels by default) are reported with status ``approx`` and their
measured error, and their
elements that permute the grid (multiples of 90 degrees, flips) must stay exact.

>>> row = _row("GroupConv", groups.dihedral(4), "7x7, stride 1", (7, 7), expect_exact=True)
>>> row["status"], row["error"] < 1e-5
('ok', True)
"""
from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from symjax import actions, groups, symmetry
from symjax import nn as snn
from symjax.geometry import EquivarianceWarning, disc_mask, exact_groups

__all__ = ["equivariance_table", "render_table"]

TOLERANCE = 1e-5


def _error(fn, G, x, act_in, act_out) -> float:
    return float(jax.jit(lambda x: symmetry.equivariance_error(fn, G, x, act_in, act_out))(x))


def _layer_fn(layer: str, G: groups.FiniteGroup, shape, **conv):
    """``(f, x, act_in, act_out)`` for one layer with random weights and input."""
    rng = np.random.default_rng(0)
    h, w = shape
    image = jnp.asarray(rng.standard_normal((2, h, w, 2)), jnp.float32)
    fmap = jnp.asarray(rng.standard_normal((2, h, w, 2, G.order)), jnp.float32)
    if layer == "LiftingConv":
        module, x, act_in, act_out = snn.LiftingConv(G, 3, **conv), image, actions.on_image, actions.on_group_image
    elif layer == "GroupConv":
        module, x, act_in, act_out = snn.GroupConv(G, 3, **conv), fmap, actions.on_group_image, actions.on_group_image
    elif layer.startswith("GroupBatchNorm"):
        train = "train" in layer
        bn = snn.GroupBatchNorm(use_running_average=not train)
        variables = bn.init(jax.random.key(0), fmap)
        variables = {**variables, "batch_stats": {"mean": jnp.full((2,), 0.3), "var": jnp.full((2,), 2.0)}}
        if train:
            return (lambda f: bn.apply(variables, f, mutable=["batch_stats"])[0], fmap, actions.on_group_image,
                    actions.on_group_image)
        return lambda f: bn.apply(variables, f), fmap, actions.on_group_image, actions.on_group_image
    else:
        pool = snn.GroupPool("max")
        return lambda f: pool.apply({}, f), fmap, actions.on_group_image, actions.on_image
    variables = module.init(jax.random.key(0), x)
    variables = jax.tree.map(lambda v: v + 0.1, variables)  # a non-zero bias too
    return (lambda x: module.apply(variables, x)), x, act_in, act_out


def _row(layer, G: groups.FiniteGroup, setting, shape, expect_exact: bool, note: str = "", **conv) -> dict:
    fn, x, act_in, act_out = _layer_fn(layer, G, shape, **conv)
    try:
        err = _error(fn, G, x, act_in, act_out)
    except ValueError:  # 90-degree rotations of a non-square input are not defined
        return dict(layer=layer, group=G.name, setting=setting, error=None, status="n/a", note=note)
    if expect_exact:
        status = "ok" if err <= TOLERANCE else "FAIL"
    else:
        status = "pitfall" if err > TOLERANCE else "ok"
    return dict(layer=layer, group=G.name, setting=setting, error=err, status=status, note=note)


def _volume_rows(G: groups.FiniteGroup, size: int = 5) -> list[dict]:
    """The cube groups on volumes ``size**3``: lifting conv, group conv and group pool, every element (exact)."""
    rng = np.random.default_rng(0)
    volume = jnp.asarray(rng.standard_normal((1, size, size, size, 2)), jnp.float32)
    fmap = jnp.asarray(rng.standard_normal((1, size, size, size, 2, G.order)), jnp.float32)
    rows = []
    for layer, module, x, act_in, act_out in (
            ("LiftingConv", snn.LiftingConv(G, 2, kernel_size=3), volume, actions.on_image, actions.on_group_image),
            ("GroupConv", snn.GroupConv(G, 2, kernel_size=3), fmap, actions.on_group_image, actions.on_group_image),
            ("GroupPool", snn.GroupPool(group=G), fmap, actions.on_group_image, actions.on_image)):
        variables = jax.tree.map(lambda v: v + 0.1, module.init(jax.random.key(0), x))
        err = _error(lambda x, m=module, v=variables: m.apply(v, x), G, x, act_in, act_out)
        rows.append(dict(layer=layer, group=G.name, setting=f"{size}x{size}x{size} volume" + (", 3x3x3, stride 1, SAME" if "Conv" in layer else ""),
                         error=err, status="ok" if err <= TOLERANCE else "FAIL",
                         note=f"all {G.order} rotations{'' if G.order == 24 else ' and reflections'} of the cube"))
    return rows


def _approx_rows(G: groups.FiniteGroup, size: int = 15) -> list[dict]:
    """A group not exact on the grid (its layers' default, steerable, kernels): every element (status ``approx``),
    then its grid elements (exact).

    The input is smooth (white noise blurred with a Gaussian of sigma 1.5 pixels)
    and zero outside the inscribed disc, so that no content leaves the frame
    under rotation; the error is measured in that disc.
    """
    rng = np.random.default_rng(0)
    taps = np.exp(-np.arange(-3, 4) ** 2 / 4.5)
    blur = jnp.asarray(np.outer(taps, taps) / np.outer(taps, taps).sum(), jnp.float32)[:, :, None, None]
    noise = jnp.asarray(rng.standard_normal((4, size, size, 1)), jnp.float32)
    smooth = jax.lax.conv_general_dilated(noise, blur, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    disc = jnp.asarray(disc_mask(size, size, margin=1), jnp.float32)
    image = (smooth.reshape(2, 2, size, size).transpose(0, 2, 3, 1) * disc[:, :, None])
    fmap = jnp.tile(image[..., None], (1, 1, 1, 1, G.order))
    grid = [g for g in range(G.order) if np.allclose(G.matrices[g], np.round(G.matrices[g]), atol=1e-9)]
    rows = []
    for layer, x, act_in in (("LiftingConv", image, actions.on_image), ("GroupConv", fmap, actions.on_group_image)):
        module = (snn.LiftingConv if layer == "LiftingConv" else snn.GroupConv)(G, 3)
        variables = module.init(jax.random.key(0), x)

        @jax.jit
        def per_element(x, module=module, variables=variables, act_in=act_in):
            fn = lambda x: module.apply(variables, x) * disc[:, :, None, None]  # noqa: E731
            return symmetry.equivariance_error(fn, G, x, act_in, actions.on_group_image, reduce=None)

        errors = np.asarray(per_element(x))

        setting = f"{size}x{size} smooth, 3x3, all {G.order} elements"
        rows.append(dict(layer=layer, group=G.name, setting=setting, error=float(errors.max()), status="approx",
                         note="steerable kernels sampled on the grid, compared after interpolation: approximate (docs/steerable.md)"))
    err = float(errors[grid].max())
    rows.append(dict(layer="GroupConv", group=G.name, setting=f"{size}x{size}, elements {grid}", error=err,
                     status="ok" if err <= TOLERANCE else "FAIL",
                     note="multiples of 90 degrees and flips permute the grid: exact"))
    return rows


def _offgrid_rows(G: groups.FiniteGroup, size: int = 17) -> list[dict]:
    """A lifting conv, ReLU, group conv, group max-pool and disc mean, on analytic inputs rotated exactly.

    :func:`symjax.symmetry.offgrid_equivariance`: the input is a sum of Gaussian
    blobs evaluated at the rotated pixel positions (no interpolation of the
    input). One row per angle modulo 90 degrees (and per reflection class): the
    largest error over its elements; status ``off-grid`` for the angles off the
    pixel grid (measured), ``ok`` or ``FAIL`` for those on it (must be exact).
    """

    lift, conv = snn.LiftingConv(G, 2, kernel_size=(5, 5)), snn.GroupConv(G, 2)
    x = jnp.zeros((1, size, size, 1))
    v1 = lift.init(jax.random.key(0), x)
    v2 = conv.init(jax.random.key(1), lift.apply(v1, x))
    disc = jnp.asarray(disc_mask(size, size, margin=4), jnp.float32)[:, :, None]

    @jax.jit
    def net(x):
        f = snn.GroupPool("max").apply({}, conv.apply(v2, jax.nn.relu(lift.apply(v1, x))))
        return jnp.sum(f * disc, axis=(1, 2))

    result = symmetry.offgrid_equivariance(net, G, size=size)
    rows = []
    classes = sorted({(float(a % 90), bool(r)) for a, r in zip(result.angles, result.reflections)})
    for angle, reflection in classes:
        members = [g for g in range(G.order)
                   if np.isclose(result.angles[g] % 90, angle) and result.reflections[g] == reflection]
        err = float(result.errors[members].max())
        on_grid = bool(result.on_grid[members[0]])
        what = ("reflections, axis rotated by " if reflection else "rotations by ") + f"{angle:g} + k*90 degrees"
        rows.append(dict(layer="Lift+GroupConv+pool", group=G.name, setting=f"{size}x{size} analytic, {what}",
                         error=err, status=("ok" if err <= TOLERANCE else "FAIL") if on_grid else "off-grid",
                         note=("permutes the grid: exact" if on_grid else
                               "exactly rotated input, relative L2 invariance error (symmetry.offgrid_equivariance)")))
    return rows


def equivariance_table(quick: bool = False) -> list[dict]:
    """Measure every layer x exact group, then the known pitfalls.

    Args:
      quick: fewer groups and settings (seconds instead of tens of seconds).

    Returns:
      One dict per row: ``layer``, ``group``, ``setting``, ``error`` (max
      relative equivariance error over all elements, or ``None``), ``status``
      (``"ok"``; ``"FAIL"`` when a setting that must be exact is not;
      ``"pitfall"`` for a known non-equivariant setting, measured; ``"n/a"``
      when the action is undefined; ``"approx"`` for a group that rotates by
      interpolation, C8 and D8, measured; ``"off-grid"`` for the rotations off
      the pixel grid measured on exactly rotated analytic inputs) and ``note``.

    Measured at ``"highest"`` matmul precision, so a GPU's default TF32
    convolutions do not hide (or fake) an equivariance error. The
    :class:`symjax.EquivarianceWarning` of the pitfall and ``approx`` rows is
    silenced here: the table reports those configurations itself.
    """
    with jax.default_matmul_precision("highest"), warnings.catch_warnings():
        warnings.simplefilter("ignore", EquivarianceWarning)
        return _equivariance_rows(quick)


def _equivariance_rows(quick: bool) -> list[dict]:
    C4, D4 = groups.cyclic(4), groups.dihedral(4)
    exact = (C4, D4) if quick else exact_groups()
    sizes = ((7, "7x7"),) if quick else ((7, "7x7"), (8, "8x8"))
    rows = []
    for G in exact:
        for layer in ("LiftingConv", "GroupConv"):
            for size, label in sizes:
                rows.append(_row(layer, G, f"{label}, 3x3, stride 1, SAME", (size, size), True))
            if not quick:
                rows.append(_row(layer, G, "9x9, 3x3, stride 2, SAME", (9, 9), True))
        for layer in ("GroupBatchNorm (train)", "GroupBatchNorm (eval)", "GroupPool"):
            rows.append(_row(layer, G, "7x7", (7, 7), True))
    for G in (D4,) if quick else (C4, D4):
        rows += [
            _row("GroupConv", G, "8x8, stride 2, SAME", (8, 8), False,
                 "stride 2 on an even size: the sampled grid is not centred", strides=2),
            _row("GroupConv", G, "7x7, padding ((0, 2), (0, 2))", (7, 7), False,
                 "asymmetric padding shifts the output grid", padding=((0, 2), (0, 2))),
            _row("GroupConv", G, "7x7, 4x4 kernel, SAME", (7, 7), False,
                 "even kernel: no centre tap, rotation moves it by half a pixel", kernel_size=(4, 4)),
            _row("GroupConv", G, "7x9 (non-square)", (7, 9), False,
                 "90-degree rotations need square inputs; only translations and flips remain"),
        ]
    rows.append(_row("GroupConv", groups.dihedral(2), "7x9 (non-square)", (7, 9), True,
                     "flips and the 180-degree rotation keep a non-square grid: still exact"))
    for G in (groups.octahedral(),) if quick else (groups.octahedral(), groups.full_octahedral()):
        rows += _volume_rows(G)
    for G in (groups.cyclic(8),) if quick else (groups.cyclic(8), groups.dihedral(8)):
        rows += _approx_rows(G)
    for G in (groups.cyclic(16),) if quick else (groups.cyclic(8), groups.dihedral(8), groups.cyclic(16)):
        rows += _offgrid_rows(G)
    return rows


def render_table(rows: list[dict]):
    """The rows of :func:`equivariance_table` as a ``rich.table.Table``.

    >>> render_table([dict(layer="GroupConv", group="D4", setting="7x7", error=1e-7, status="ok", note="")]).row_count
    1
    """
    from rich.table import Table

    table = Table(title=f"symjax equivariance self-check (max relative error, tolerance {TOLERANCE:g})")
    for column in ("layer", "group", "setting", "max rel. error", "status", "note"):
        table.add_column(column)
    colour = {"ok": "green", "FAIL": "bold red", "pitfall": "yellow", "n/a": "dim", "approx": "cyan", "off-grid": "cyan"}
    for r in rows:
        err = "-" if r["error"] is None else f"{r['error']:.1e}"
        status = f"[{colour.get(r['status'], 'white')}]{r['status']}[/]"
        table.add_row(r["layer"], r["group"], r["setting"], err, status, r["note"])
    return table
