"""The whole benchmark suite behind `symjax bench`: G-conv vs plain conv, syre vs adamw, escnn, approximate rotations,
XLA:CPU convolution backends.

    python benchmarks/suite.py [--quick] [--dtype {float32,bfloat16}] [--json FILE]

Each part is a module of this folder with a `run(quick) -> dict`; every figure
is measured in this one process (ratios of interleaved medians). ``--dtype``
applies to the G-conv benchmark (parameters and activations of both nets);
the syre and escnn parts run in float32.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = ("bench_gconv", "bench_syre", "bench_escnn", "bench_approx", "bench_cpu_conv")


def script_main(run, print_results, doc: str, quick_help: str) -> None:
    """The command line of a one-part benchmark script: ``[--quick] [--json FILE]``, then run, print, save."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    results = run(quick=args.quick)
    print_results(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def run(quick: bool = False, dtype: str = "float32") -> dict:
    """Runs every part and returns ``{part: results}``."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    results = {}
    for name in PARTS:
        print(f"\n=== {name} ===", flush=True)
        module = importlib.import_module(name)
        kwargs = {"dtype": dtype} if name == "bench_gconv" else {}
        results[name] = module.run(quick=quick, **kwargs)
        if hasattr(module, "_print"):
            module._print(results[name])
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="symjax benchmark suite")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                        help="dtype of the G-conv benchmark (default float32)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    out = run(quick=args.quick, dtype=args.dtype)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
