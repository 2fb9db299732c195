"""Rotated digits at 45 and 22.5 degrees: a C8 or C16 G-CNN trained on upright digits, tested at every rotation of G.

scikit-learn's digits are upsampled to 28x28 (bilinear); the network (lifting
conv 5x5, 2x2 max-pool, two 5x5 group convs, 6 regular fields, group max-pool,
spatial mean, a dense head: the shape of escnn's C8 model in issue 13) is
trained on the upright training digits only (Adam 3e-3, batch 64, 15 epochs)
and tested on the held-out digits rotated by every multiple of 360/n degrees
(bilinear resampling, ``actions.rotate_image``). The layers of C8/C16 use the
steerable kernel basis unless ``--basis bilinear`` asks for the kernels rotated
by interpolation. Rotations by multiples of 90 degrees move the pixels exactly;
the others are where a G-CNN trained upright can lose accuracy. The levers
measured in benchmarks/README.md ("Steerable convolutions"), all part of the
model (train and test alike): ``--pool mean`` (smoothing before subsampling),
``--blur SIGMA`` (a fixed Gaussian blur of the input), ``--antialias SIGMA``
(the same blur of the feature maps before the pool) and ``--disc`` (the input
and the final spatial mean on the inscribed disc: the lever that closes the gap
between the angles). ``--round-trip`` also tests the digits rotated and rotated
back, seen upright (what the resampling loses, no equivariance involved).
``--profile escnn`` (or ``outer0``) sets the steerable basis' radial profile.

    python examples/rotated_digits_c8.py                      # C8, 6-12 minutes on 2 busy CPU cores
    python examples/rotated_digits_c8.py --disc --pool mean --blur 1   # spread 0.04 between the angles
    python examples/rotated_digits_c8.py --group C16 --plot accuracy.png
    python examples/rotated_digits_c8.py --quick              # seconds (smoke test)

``--plot FILE`` draws the accuracy against the angle (needs matplotlib).
"""
from __future__ import annotations

import argparse
import math
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

from symjax import actions, groups, xla
from symjax import functional as F
from symjax import nn as snn
from symjax.geometry import disc_mask

GROUPS = {"C4": groups.cyclic(4), "C8": groups.cyclic(8), "C16": groups.cyclic(16)}
PROFILES = {"default": {},
            "escnn": {"rings": F.escnn_rings(5), "sigma": F.escnn_sigma(5)},
            "outer0": {"rings": F.escnn_rings(5), "sigma": F.escnn_sigma(5), "max_frequency": (0, 2, 0)}}
"""Settings of the steerable basis of the 5x5 layers (``--profile``): the default is the layers' own (escnn's band
limit, the outer ring pulled in); ``escnn``: escnn's radial profile; ``outer0``: that with an isotropic outer ring.
Steerable layers only (C8, C16; ``--basis bilinear`` and C4 have free kernels)."""


def gaussian_blur(x: jax.Array, sigma: float) -> jax.Array:
    """A fixed Gaussian blur (``sigma`` in pixels, 7x7 taps, zero padding) of every channel of ``(N, H, W, ...)``."""
    taps = np.exp(-np.arange(-3, 4) ** 2 / (2 * sigma ** 2))
    kernel = jnp.asarray(np.outer(taps, taps) / np.outer(taps, taps).sum(), x.dtype)[:, :, None, None]
    flat = x.reshape(x.shape[:3] + (-1,)).transpose(0, 3, 1, 2).reshape((-1,) + x.shape[1:3] + (1,))
    y = jax.lax.conv_general_dilated(flat, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y.reshape((x.shape[0], -1) + x.shape[1:3]).transpose(0, 2, 3, 1).reshape(x.shape)


class Net(nn.Module):
    """Lifting conv 5x5, 2x2 max (or mean) pool, two 5x5 group convs (ReLU), group max-pool, spatial mean, head.

    The levers of benchmarks/README.md: ``blur`` (the input blurred, train and test alike),
    ``antialias`` (the feature maps blurred before the 2x2 pool), ``disc`` (the input and
    the final spatial mean restricted to the inscribed disc, where a rotation keeps the image).
    """

    group: groups.FiniteGroup
    fields: int = 6
    basis: str | None = None
    pool: str = "max"
    blur: float = 0.0
    antialias: float = 0.0
    disc: bool = False
    profile: str = "default"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kw = ({} if self.basis is None else {"basis": self.basis}) | PROFILES[self.profile]
        if self.blur > 0:  # rotation-invariant smoothing: the bilinear rotation of the test digits blurs them too
            x = gaussian_blur(x, self.blur)
        if self.disc:
            x = x * jnp.asarray(disc_mask(x.shape[1], x.shape[2]), x.dtype)[:, :, None]
        f = nn.relu(snn.LiftingConv(self.group, self.fields, kernel_size=5, **kw)(x))
        if self.antialias > 0:  # low-pass before subsampling: a 2x2 pool aliases what a rotation off the grid moves
            f = gaussian_blur(f, self.antialias)
        f = F.spatial_pool(f, 2, self.pool)
        for _ in range(2):
            f = nn.relu(snn.GroupConv(self.group, self.fields, kernel_size=5, **kw)(f))
        f = snn.GroupPool("max")(f)
        weights = jnp.asarray(disc_mask(f.shape[1], f.shape[2]) if self.disc else np.ones(f.shape[1:3]), f.dtype)
        return nn.Dense(10)(jnp.sum(f * weights[:, :, None], axis=(1, 2)) / jnp.sum(weights))


def load(seed: int = 0, size: int = 28) -> tuple[np.ndarray, ...]:
    """Digits in [0, 1] upsampled to ``size x size`` (bilinear); 1200 for training, the other 597 held out."""
    data = load_digits()
    order = np.random.default_rng(seed).permutation(len(data.target))
    x = jax.image.resize(jnp.asarray(data.images[order] / 16.0, jnp.float32)[..., None],
                         (len(order), size, size, 1), "linear")
    x, y = np.asarray(x), data.target[order].astype(np.int32)
    return x[:1200], y[:1200], x[1200:], y[1200:]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", choices=sorted(GROUPS), default="C8")
    parser.add_argument("--basis", choices=("steerable", "bilinear"), default=None,
                        help="kernel construction (default: the layers' own, steerable off the grid)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default",
                        help="radial profile and band limit of the steerable basis (5x5 kernels): the layers' default, "
                             "escnn's, or escnn's with an isotropic outer ring")
    parser.add_argument("--fields", type=int, default=6)
    parser.add_argument("--pool", choices=("max", "mean"), default="max",
                        help="the 2x2 spatial pool (mean: smoothing before subsampling)")
    parser.add_argument("--blur", type=float, default=0.0, help="Gaussian blur of the input, sigma in pixels")
    parser.add_argument("--antialias", type=float, default=0.0,
                        help="Gaussian blur of the feature maps before the 2x2 pool, sigma in pixels")
    parser.add_argument("--disc", action="store_true",
                        help="input and final spatial mean restricted to the inscribed disc")
    parser.add_argument("--round-trip", action="store_true",
                        help="also the accuracy on digits rotated and rotated back (what resampling loses)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, metavar="FILE", help="draw accuracy against angle (matplotlib)")
    parser.add_argument("--quick", action="store_true", help="a few steps on a few digits (smoke test)")
    args = parser.parse_args(argv)
    if args.profile != "default" and (args.basis == "bilinear" or (args.group == "C4" and args.basis is None)):
        parser.error(f"--profile {args.profile} sets the steerable basis, and {args.group} with "
                     f"{'--basis bilinear' if args.basis else 'its default basis'} has free kernels")
    G = GROUPS[args.group]
    x_train, y_train, x_test, y_test = load(args.seed, size=12 if args.quick else 28)
    epochs, fields = args.epochs, args.fields
    if args.quick:  # 12x12 digits, one epoch of 64, one field
        x_train, y_train, x_test, y_test, epochs, fields = x_train[:64], y_train[:64], x_test[:32], y_test[:32], 1, 1

    model = Net(G, fields, args.basis, args.pool, args.blur, args.antialias, args.disc, args.profile)
    params = xla.jit(model.init)(jax.random.key(args.seed), x_train[:1])["params"]
    optimizer = optax.adam(3e-3)
    opt_state = optimizer.init(params)

    @xla.jit
    def step(params, opt_state, x, y):
        def loss_fn(p):
            return optax.softmax_cross_entropy_with_integer_labels(model.apply({"params": p}, x), y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    predict = xla.jit(lambda params, x, angle: jnp.argmax(
        model.apply({"params": params}, actions.rotate_image(x, angle)), -1))
    # the digits rotated by the angle and back, seen upright: what the two resamplings lose, no equivariance involved
    round_trip = xla.jit(lambda params, x, angle: jnp.argmax(
        model.apply({"params": params}, actions.rotate_image(actions.rotate_image(x, angle), -angle)), -1))
    start, losses = time.perf_counter(), []
    for epoch in range(epochs):
        order = np.random.default_rng(1000 * args.seed + epoch).permutation(len(x_train))
        for i in range(0, len(order), 64):
            batch = order[i:i + 64]
            params, opt_state, loss = step(params, opt_state, x_train[batch], y_train[batch])
            losses.append(float(loss))
    seconds = time.perf_counter() - start

    angles = [360.0 * k / G.order for k in range(G.order)]
    accuracy, back = {}, {}
    for angle in angles:
        accuracy[angle] = float(np.mean(np.asarray(predict(params, x_test, math.radians(angle))) == y_test))
        if args.round_trip:
            back[angle] = float(np.mean(np.asarray(round_trip(params, x_test, math.radians(angle))) == y_test))
    values = list(accuracy.values())
    profile = "" if args.profile == "default" else f" ({args.profile} profile)"
    print(f"{G.name} G-CNN ({args.basis or 'default'} kernels{profile}, {fields} fields, {args.pool} pool, "
          f"blur {args.blur:g}, "
          f"antialias {args.antialias:g}{', disc' if args.disc else ''}), "
          f"{epochs} epochs upright in {seconds:.0f} s, final train loss {np.mean(losses[-5:]):.3f}")
    for angle, acc in accuracy.items():
        print(f"  test accuracy rotated by {angle:6.2f} degrees: {acc:.3f}" +
              (f"  (rotated and back, seen upright: {back[angle]:.3f})" if args.round_trip else ""))
    print(f"  worst angle {min(values):.3f}, spread (max - min) {max(values) - min(values):.3f}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(angles, values, "o-", label=f"{G.name}, {args.basis or 'default'} kernels")
        ax.set(xlabel="rotation of the test digits (degrees)", ylabel="test accuracy", ylim=(0, 1),
               xticks=angles[:: max(1, G.order // 8)], title="trained on upright digits only")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot)
        print(f"  plot written to {args.plot}")
    return {"accuracy": accuracy, "worst": min(values), "spread": max(values) - min(values), "round_trip": back,
            "loss": losses, "seconds": seconds}


if __name__ == "__main__":
    main()
