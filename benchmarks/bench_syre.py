"""syre overhead: `optim.syre_adamw` vs `optax.adamw` on a ~4M-parameter MLP.

The measurement lives in the package (:mod:`symjax.bench.syre`, also run by
``symjax bench``); this script is its command line:

    python benchmarks/bench_syre.py [--quick] [--tiny] [--json FILE]
"""
from symjax.bench.syre import main, print_results, run

__all__ = ["main", "print_results", "run"]

if __name__ == "__main__":
    main()
