"""XLA:CPU convolution backends: XLA's default (YNNPACK) against Eigen (``symjax.xla``), per layer.

The measurement lives in the package (:mod:`symjax.bench.cpu_conv`, also run by
``symjax bench``); this script is its command line:

    python benchmarks/bench_cpu_conv.py [--quick] [--tiny] [--json FILE]
"""
from symjax.bench.cpu_conv import main, ops, print_results, run

__all__ = ["main", "ops", "print_results", "run"]

if __name__ == "__main__":
    main()
