"""Steerable convolutions (issue 13): off-grid invariance, construction, train step, digits at every rotation.

Runs :mod:`symjax.bench.steerable` (off-grid invariance error of the random
4-layer C8/C16 regular-field net, bilinear against steerable kernels; eager
init of a D16 net; train step against a plain conv of ``C x |G|`` channels),
then ``examples/rotated_digits_c8.py`` (digits upsampled to 28x28, trained
upright, accuracy at every rotation of the group; needs scikit-learn) and,
where ``torch`` and ``escnn`` import (``benchmarks/install_escnn.sh`` builds
``.venv-bench``), the same off-grid measurement of escnn's ``R2Conv`` net of
the same shape on the same analytic inputs, with its construction time.

    python benchmarks/bench_steerable.py [--quick] [--tiny] [--json FILE] [--digits GROUPS] [--seeds N]
        [--levers {off,on,both}] [--no-core] [--round-trip]
    .venv-bench/bin/python benchmarks/bench_steerable.py ...   # with the escnn column
"""
from __future__ import annotations

import argparse
import json
import runpy
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from symjax import symmetry
from symjax.bench import steerable

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rotated_digits_c8.py"


def escnn_offgrid(name: str, size: int = 33, fields: int = 4, seeds: int = 4, window: str = "disc") -> dict | str:
    """escnn's lift 7x7 + three 5x5 R2Conv regular-field net, ReLU, GroupPooling, disc (or Gaussian) mean: off-grid error."""
    try:
        import torch
        from escnn import gspaces, nn as enn
    except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
        return f"escnn not available ({type(exc).__name__}: {exc})"
    n = int(name[1:])
    act = gspaces.rot2dOnR2(N=n) if name[0] == "C" else gspaces.flipRot2dOnR2(N=n)
    disc = torch.from_numpy(steerable.readout_window(size, 8.0, window))
    results, build = [], []
    for seed in range(seeds):
        torch.manual_seed(seed)
        start = time.perf_counter()
        t_in = enn.FieldType(act, [act.trivial_repr])
        t_f = enn.FieldType(act, fields * [act.regular_repr])
        layers = [enn.R2Conv(t_in, t_f, kernel_size=7, padding=3), enn.ReLU(t_f)]
        for i in range(3):
            layers.append(enn.R2Conv(t_f, t_f, kernel_size=5, padding=2))
            if i < 2:
                layers.append(enn.ReLU(t_f))
        layers.append(enn.GroupPooling(t_f))
        body = enn.SequentialModule(*layers).eval()
        build.append(time.perf_counter() - start)

        def f(x, body=body, t_in=t_in):
            with torch.no_grad():
                t = torch.from_numpy(np.array(x, np.float32)).permute(0, 3, 1, 2)
                y = body(enn.GeometricTensor(t, t_in)).tensor
                out = (y * disc).sum(dim=(2, 3)) / disc.sum()
            return jnp.asarray(out.numpy())

        results.append(symmetry.offgrid_equivariance(f, steerable.GROUPS[name], size=size))
    return {"group": name, "kernel": "escnn", "window": window,
            "offgrid_mean": float(np.mean([r.offgrid_mean() for r in results])),
            "offgrid_median": float(np.median([r.offgrid_mean() for r in results])),
            "offgrid_seeds": [r.offgrid_mean() for r in results],
            "ongrid_max": float(max(r.ongrid_max() for r in results)), "build_s": build}


LEVERS = ["--pool", "mean", "--blur", "1", "--disc"]
"""The digits net's options that close the gap between the angles (benchmarks/README.md, "Steerable convolutions")."""


def digits(group: str, seed: int, basis: str | None, quick: bool, levers: bool = False,
           round_trip: bool = False, profile: str = "default") -> dict:
    """One run of ``examples/rotated_digits_c8.py``: accuracy per angle, worst, spread, train loss of the last 5 steps."""
    argv = ["--group", group, "--seed", str(seed)] + (["--basis", basis] if basis else []) + (["--quick"] if quick else [])
    argv += (LEVERS if levers else []) + (["--round-trip"] if round_trip else [])
    argv += ["--profile", profile] if profile != "default" else []
    out = runpy.run_path(str(EXAMPLE))["main"](argv)
    return {"group": group, "seed": seed, "basis": basis or "default", "profile": profile, "levers": levers,
            "accuracy": out["accuracy"],
            "worst": out["worst"], "spread": out["spread"], "seconds": out["seconds"],
            "final_loss": float(np.mean(out["loss"][-5:])), "round_trip": out["round_trip"]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds and repetitions")
    parser.add_argument("--tiny", action="store_true", help="a smoke run (not a measurement)")
    parser.add_argument("--json", default=None, metavar="FILE")
    parser.add_argument("--digits", default="C8,C16", help="groups of the digits experiment ('' for none)")
    parser.add_argument("--seeds", type=int, default=1, help="training seeds of the digits experiment")
    parser.add_argument("--levers", choices=("off", "on", "both"), default="both",
                        help="the digits net plain, with LEVERS, or both")
    parser.add_argument("--no-core", action="store_true", help="skip symjax.bench.steerable (digits and escnn only)")
    parser.add_argument("--profile", default="default", choices=("default", "escnn", "outer0"),
                        help="digits: the steerable basis' radial profile (the example's --profile)")
    parser.add_argument("--escnn-seeds", type=int, default=None,
                        help="initialisation seeds of escnn's off-grid nets (default 8, 2 with --quick)")
    parser.add_argument("--round-trip", action="store_true",
                        help="digits: also the accuracy on the digits rotated and rotated back (the example's option)")
    args = parser.parse_args(argv)
    results = {}
    if not args.no_core:
        results["core"] = steerable.run(quick=args.quick, tiny=args.tiny)
        steerable.print_results(results["core"])
    windows = ("disc",) if args.quick else steerable.WINDOWS  # 8 seeds: the error varies 10x between seeds
    escnn_seeds = args.escnn_seeds or (2 if args.quick else 8)
    escnn = [escnn_offgrid(n, seeds=escnn_seeds, window=w)
             for n in (() if args.tiny else ("C8", "C16")) for w in windows]
    results["escnn"] = escnn
    for r in escnn:
        print(f"escnn: {r}" if isinstance(r, str) else
              f"  {r['group']:<4} escnn {r['window']:<9} off-grid {r['offgrid_mean']:.2e}, median "
              f"{r['offgrid_median']:.2e} (seeds "
              f"{', '.join(f'{e:.2e}' for e in r['offgrid_seeds'])})  on-grid max {r['ongrid_max']:.1e}  "
              f"build {', '.join(f'{b:.1f}' for b in r['build_s'])} s")
    results["digits"] = []
    for group in filter(None, args.digits.split(",")):
        for seed in range(args.seeds):
            for levers in {"off": (False,), "on": (True,), "both": (False, True)}[args.levers]:
                results["digits"].append(digits(group, seed, None, args.tiny, levers, args.round_trip, args.profile))
    for r in results["digits"]:
        print(f"  digits {r['group']} seed {r['seed']} {'with levers' if r['levers'] else 'plain':<11}: worst angle "
              f"{r['worst']:.3f}, spread {r['spread']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
