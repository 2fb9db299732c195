"""G-conv vs plain conv: the cost of symjax's kernel expansion, over groups, widths, image and batch sizes.

The measurement lives in the package (:mod:`symjax.bench.gconv`, also run by
``symjax bench``); this script is its command line:

    python benchmarks/bench_gconv.py [--quick] [--tiny] [--volumes] [--dtype {float32,bfloat16}] [--json FILE]
                                     [--xla-defaults]
"""
from symjax.bench.gconv import compare, main, print_results, run

__all__ = ["compare", "main", "print_results", "run"]

if __name__ == "__main__":
    main()
