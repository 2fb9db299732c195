"""The ``symjax`` command line: ``demo``, ``bench``, ``check``, ``info``."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

_PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "orbax-checkpoint", "rich")
# what `symjax demo` needs beyond the core dependencies: import name, distribution (the `demo` extra)
DEMO_EXTRAS = {"sklearn": "scikit-learn", "matplotlib": "matplotlib"}


def machine_info() -> dict:
    """Versions and devices, for ``symjax info`` and benchmark JSON.

    >>> info = machine_info()
    >>> sorted(k for k in info if k in ("python", "jax", "devices"))
    ['devices', 'jax', 'python']
    """
    import jax

    info = {"python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine()}
    for name in _PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    from symjax import xla

    info["backend"] = jax.default_backend()
    info["xla_flags"] = os.environ.get("XLA_FLAGS", "")
    info["compiler_options"] = xla.compiler_options()
    info["devices"] = [f"{d.platform}:{d.id} {d.device_kind}" for d in jax.devices()]
    return info


def _info(args) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="symjax info")
    table.add_column("what")
    table.add_column("value")
    from symjax import __version__

    table.add_row("symjax", __version__)
    for key, value in machine_info().items():
        table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    Console().print(table)
    return 0


def _check(args) -> int:
    from rich.console import Console

    from symjax._selfcheck import equivariance_table, render_table

    rows = equivariance_table(quick=args.quick)
    console = Console()
    console.print(render_table(rows))
    failed = [r for r in rows if r.get("status") == "FAIL"]
    if failed:
        console.print(f"[bold red]{len(failed)} check(s) failed[/bold red]")
    return 1 if failed else 0


def missing_demo_extras() -> list[str]:
    """The distributions of the ``demo`` extra that do not import, e.g. ``['scikit-learn']``; empty when all do.

    >>> missing_demo_extras() in ([], ["scikit-learn"], ["matplotlib"], ["scikit-learn", "matplotlib"])
    True
    """
    missing = []
    for module, distribution in DEMO_EXTRAS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(distribution)
    return missing


def _demo(args) -> int:
    missing = missing_demo_extras()
    if missing:  # before any training: the demo needs them only at the end (digits, plots)
        print(f"symjax demo needs {' and '.join(missing)} (the 'demo' extra), which could not be imported.\n"
              "Install with:  pip install 'symjax[demo]'", file=sys.stderr)
        return 1
    from rich.console import Console

    from symjax._demo import run_demo
    from symjax._tour import run_tour

    console = Console(width=max(Console().width, 110))  # the demo's tables need about 100 columns
    console.rule("1. Groups and actions")
    run_tour(console)
    console.rule("2. G-CNN vs CNN and symmetry removal")
    run_demo(quick=args.quick, out=args.out, console=console)
    return 0


def _bench(args) -> int:
    from symjax import bench

    parts = bench.PARTS if args.parts is None else tuple(f"bench_{name.strip()}" for name in args.parts.split(","))
    unknown = [name.removeprefix("bench_") for name in parts if name not in bench.PARTS]
    if unknown:
        raise SystemExit(f"symjax bench: --parts takes {', '.join(p.removeprefix('bench_') for p in bench.PARTS)}; "
                         f"got {', '.join(unknown)}")
    results = bench.run(quick=args.quick, tiny=args.tiny, parts=parts)
    results["machine"] = machine_info()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``symjax`` console script."""
    parser = argparse.ArgumentParser(prog="symjax", description="symjax: symmetry in deep learning with JAX")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="tour of groups, G-CNN vs CNN on rotated digits, syre experiments")
    p.add_argument("--quick", action="store_true", help="a shorter run (under 2 minutes on 2 CPU cores)")
    p.add_argument("--out", default="demo_out", help="folder for the PNG plots (default: demo_out)")
    p.set_defaults(fn=_demo)
    p = sub.add_parser("bench", help="benchmarks: G-conv vs plain conv, syre vs adamw, approximate rotations, "
                                     "XLA:CPU convolutions, steerable convolutions; escnn when run from the repository "
                                     "with escnn installed")
    p.add_argument("--quick", action="store_true", help="fewer sizes and repetitions")
    p.add_argument("--tiny", action="store_true", help="a seconds-long smoke run of each part (not a measurement)")
    p.add_argument("--parts", default=None, metavar="A,B",
                   help="only these parts, comma-separated: gconv, syre, escnn, approx, cpu_conv, steerable "
                        "(default: all)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    p.set_defaults(fn=_bench)
    p = sub.add_parser("check", help="equivariance self-check of every layer and group, as a table")
    p.add_argument("--quick", action="store_true", help="fewer sizes")
    p.set_defaults(fn=_check)
    p = sub.add_parser("info", help="versions and devices")
    p.set_defaults(fn=_info)
    args = parser.parse_args(argv)
    if args.command != "bench":  # the benchmarks choose their XLA options per function, both ways
        from symjax import xla

        xla.configure_cpu(warn=False)  # Eigen convolutions on CPU, when JAX has not started yet (symjax.xla)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
