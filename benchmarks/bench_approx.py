"""Approximate rotations: measured equivariance error of C_n / D_n convolutions against n, kernel and image size.

The measurement lives in the package (:mod:`symjax.bench.approx`, also run by
``symjax bench``); this script is its command line:

    python benchmarks/bench_approx.py [--quick] [--tiny] [--json FILE]
"""
from symjax.bench.approx import GROUPS, errors, main, print_results, run

__all__ = ["GROUPS", "errors", "main", "print_results", "run"]

if __name__ == "__main__":
    main()
