"""The whole benchmark suite, as `symjax bench` runs it, with the escnn comparison of this folder.

    python benchmarks/suite.py [--quick] [--tiny] [--dtype {float32,bfloat16}] [--json FILE]

The parts that need only symjax's dependencies live in the package
(:mod:`symjax.bench`: G-conv vs plain conv, syre vs adamw, approximate
rotations, XLA:CPU convolution backends, steerable convolutions); the peer comparison with escnn
(PyTorch) is `bench_escnn.py` here. Every figure is measured in this one process
(ratios of interleaved medians). ``--dtype`` applies to the G-conv benchmark
(parameters and activations of both nets); the other parts run in float32.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from symjax import bench

PARTS = bench.PARTS
ESCNN = Path(__file__).resolve().parent / "bench_escnn.py"


def run(quick: bool = False, dtype: str = "float32", tiny: bool = False) -> dict:
    """Runs every part and returns ``{part: results}``."""
    return bench.run(quick=quick, dtype=dtype, tiny=tiny, escnn=bench.checkout_escnn(ESCNN))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="symjax benchmark suite")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="a seconds-long smoke run of each part (not a measurement)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                        help="dtype of the G-conv benchmark (default float32)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    out = run(quick=args.quick, dtype=args.dtype, tiny=args.tiny)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
