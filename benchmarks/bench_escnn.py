"""symjax vs escnn (PyTorch) on a P4CNN-like network: training step, inference, construction.

The architecture follows Cohen & Welling's P4CNN: a lifting layer and six group
convolutions (3x3, 10 regular fields each), ReLU, a 2x2 spatial max pool after
the second layer, group max-pooling and a spatial mean over the last layer's
10 fields as logits. Input 28x28x1, batch 64, for p4 (C4) and p4m (D4).

Both sides run in this one process, warmed up, interleaved, alternating which
side is timed first; we report medians and escnn/symjax ratios (> 1 means
symjax is faster). escnn's inference is timed in ``eval()`` mode, where it
caches its expanded filters. escnn runs on CUDA when PyTorch sees a GPU; both
sides return their result to the host, so each timing includes the sync.

Needs ``torch`` and ``escnn`` (``pip install torch escnn``; escnn's dependency
``py3nj`` compiles Fortran, so first ``apt-get install gfortran``). Without
them the benchmark is skipped with a message.

    python benchmarks/bench_escnn.py [--quick] [--json FILE] [--xla-defaults]

``symjax bench`` and ``benchmarks/suite.py`` run it with the parts of
:mod:`symjax.bench` when this file is next to the ``symjax`` package (a
repository checkout).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import flax.linen as fnn

from symjax import functional as F, groups, nn as snn, xla
from symjax.bench.timing import median_ms

FIELDS, LAYERS, SIZE, CLASSES = 10, 7, 28, 10


def escnn_available() -> str | None:
    """``None`` when torch and escnn import, else the reason."""
    try:
        import escnn  # noqa: F401
        import torch  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
        return f"{type(exc).__name__}: {exc}"
    return None


class P4CNN(fnn.Module):
    """The symjax side: lifting conv, six group convs, pooling."""

    group: groups.FiniteGroup
    fields: int = FIELDS

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(snn.LiftingConv(self.group, self.fields, kernel_size=(3, 3))(x))
        for i in range(LAYERS - 1):
            if i == 1:
                f = F.spatial_pool(f, 2)  # flax's max_pool has a slow gradient on XLA:CPU
            f = snn.GroupConv(self.group, self.fields if i < LAYERS - 2 else CLASSES, kernel_size=(3, 3))(f)
            if i < LAYERS - 2:
                f = fnn.relu(f)
        return snn.GroupPool("max")(f).mean(axis=(1, 2))


def _escnn_model(group_name: str):
    import torch
    from escnn import gspaces, nn as enn

    act = gspaces.rot2dOnR2(N=4) if group_name == "C4" else gspaces.flipRot2dOnR2(N=4)
    in_type = enn.FieldType(act, [act.trivial_repr])
    feat = enn.FieldType(act, FIELDS * [act.regular_repr])
    out = enn.FieldType(act, CLASSES * [act.regular_repr])
    layers = [enn.R2Conv(in_type, feat, kernel_size=3, padding=1), enn.ReLU(feat)]
    for i in range(LAYERS - 1):
        if i == 1:
            layers.append(enn.PointwiseMaxPool2D(feat, 2))
        last = i == LAYERS - 2
        layers.append(enn.R2Conv(feat, out if last else feat, kernel_size=3, padding=1))
        if not last:
            layers.append(enn.ReLU(feat))
    layers.append(enn.GroupPooling(out))
    body = enn.SequentialModule(*layers)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body

        def forward(self, x):
            return self.body(enn.GeometricTensor(x, in_type)).tensor.mean(dim=(2, 3))

    return Net()


def bench_group(group_name: str, batch: int, reps: int, xla_options: bool = True) -> dict:
    """Times one group; returns medians in ms and escnn/symjax ratios.

    ``xla_options``: compile symjax's train step and ``init`` with :func:`symjax.xla.jit`
    (Eigen convolutions on CPU) and its inference with :func:`symjax.xla.fastest`
    (the faster of XLA's default and Eigen, timed once at build), rather than plain
    ``jax.jit`` (XLA's defaults).
    """
    jit = xla.jit if xla_options else jax.jit
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    G = groups.cyclic(4) if group_name == "C4" else groups.dihedral(4)
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((batch, SIZE, SIZE, 1)).astype(np.float32)
    y_np = rng.integers(0, CLASSES, batch)

    # -- construction ---------------------------------------------------------------------------
    t0 = time.perf_counter()
    emodel = _escnn_model(group_name)
    escnn_build = time.perf_counter() - t0
    model = P4CNN(G)
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)
    t0 = time.perf_counter()
    params = jax.block_until_ready(jit(model.init)(jax.random.key(0), x))
    symjax_build = time.perf_counter() - t0

    # -- symjax train step and forward ----------------------------------------------------------
    tx = optax.adam(1e-3)
    opt_state = tx.init(params)

    @jit
    def train_step(params, opt_state, x, y):
        def loss_fn(p):
            return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, x), y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    if xla_options:  # inference: whichever XLA:CPU convolution path is faster for this net (symjax.xla.fastest)
        forward = xla.fastest(model.apply, params, x)
    else:
        forward = jit(model.apply)

    # -- escnn train step and forward -----------------------------------------------------------
    device = "cuda" if torch.cuda.is_available() else "cpu"  # escnn on the GPU when JAX may be on one too
    emodel.to(device)
    xt = torch.from_numpy(np.ascontiguousarray(x_np.transpose(0, 3, 1, 2))).to(device)
    yt = torch.from_numpy(y_np).to(device)
    eopt = torch.optim.Adam(emodel.parameters(), lr=1e-3)

    def escnn_train():
        emodel.train()
        eopt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(emodel(xt), yt)
        loss.backward()
        eopt.step()
        return float(loss.detach())

    def escnn_forward():
        with torch.no_grad():
            return emodel(xt).cpu().numpy()

    state = {"params": params, "opt": opt_state}

    def symjax_train():
        state["params"], state["opt"], loss = train_step(state["params"], state["opt"], x, y)
        return float(loss)

    def symjax_forward():
        return np.asarray(forward(state["params"], x))

    for _ in range(2):  # warm-up (compiles, caches)
        symjax_train(), escnn_train(), symjax_forward()
    emodel.eval()
    escnn_forward()

    results = {}
    for what, sides in (("train_step", (("symjax", symjax_train), ("escnn", escnn_train))),
                        ("inference", (("symjax", symjax_forward), ("escnn", escnn_forward)))):
        if what == "inference":
            emodel.eval()
            escnn_forward()
        times = {"symjax": [], "escnn": []}
        for r in range(reps):
            order = sides if r % 2 == 0 else sides[::-1]
            for name, fn in order:
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        results[what] = {"symjax_ms": median_ms(times["symjax"]), "escnn_ms": median_ms(times["escnn"]),
                         "escnn_over_symjax": statistics.median(times["escnn"]) / statistics.median(times["symjax"])}
    results["torch_device"] = device
    if isinstance(forward, xla.Tuned):
        results["inference"]["symjax_xla_choice"] = forward.choice
    results["construction"] = {"symjax_s": symjax_build, "escnn_s": escnn_build,
                               "escnn_over_symjax": escnn_build / symjax_build}
    return results


def run(quick: bool = False, xla_options: bool = True) -> dict:
    """The peer benchmark; ``{"skipped": reason}`` when torch/escnn are missing."""
    reason = escnn_available()
    if reason is not None:
        print(f"escnn benchmark skipped: torch and escnn are not importable ({reason}). "
              "Set them up with benchmarks/install_escnn.sh (gfortran, torch, escnn in .venv-bench).")
        return {"skipped": reason}
    batch = 64
    reps = 5 if quick else 15
    out = {"config": {"batch": batch, "size": SIZE, "fields": FIELDS, "layers": LAYERS, "reps": reps,
                      "backend": jax.default_backend(), "xla_flags": os.environ.get("XLA_FLAGS", ""),
                      "compiler_options": xla.compiler_options() if xla_options else {}}}
    for name in ("C4",) if quick else ("C4", "D4"):
        out["p4" if name == "C4" else "p4m"] = bench_group(name, batch, reps, xla_options)
    return out


def print_results(results: dict) -> None:
    """Print the results of :func:`run` as a table (nothing when it was skipped)."""
    if "skipped" in results:
        return
    print(f"{'net':<5}{'what':<14}{'symjax':>12}{'escnn':>12}{'escnn/symjax':>14}")
    for net in ("p4", "p4m"):
        if net not in results:
            continue
        for what in ("train_step", "inference"):
            r = results[net][what]
            print(f"{net:<5}{what:<14}{r['symjax_ms']:>10.1f}ms{r['escnn_ms']:>10.1f}ms{r['escnn_over_symjax']:>14.2f}")
        c = results[net]["construction"]
        print(f"{net:<5}{'construction':<14}{c['symjax_s']:>11.2f}s{c['escnn_s']:>11.2f}s{c['escnn_over_symjax']:>14.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None)
    parser.add_argument("--xla-defaults", action="store_true",
                        help="compile symjax with plain jax.jit (XLA's default CPU convolutions)")
    args = parser.parse_args()
    res = run(quick=args.quick, xla_options=not args.xla_defaults)
    print_results(res)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
    sys.exit(0)
