"""The benchmarks behind ``symjax bench``: each measured in one process, reported as ratios.

Each part is a module with ``run(quick=False, tiny=False) -> dict`` (JSON-ready),
``print_results(results)`` and ``main(argv)``, its command line
(``python -m symjax.bench.<part> [--quick] [--tiny] [--json FILE]``; the
repository's ``benchmarks/bench_<part>.py`` scripts run the same):

- :mod:`symjax.bench.gconv`: G-conv vs plain conv (the cost of the kernel expansion);
- :mod:`symjax.bench.syre`: ``optim.syre_adamw`` vs ``optax.adamw``;
- :mod:`symjax.bench.approx`: equivariance error of the groups that rotate by interpolation;
- :mod:`symjax.bench.cpu_conv`: XLA:CPU convolution backends, XLA's default vs ``symjax.xla``;
- :mod:`symjax.bench.steerable`: steerable C_n/D_n convolutions: off-grid invariance error (bilinear
  against steerable kernels), eager init of a D16 net, train step against a plain conv.

They need only symjax's own dependencies, so they run from an installed wheel.
:mod:`symjax.bench.timing` holds the timers they share. The comparison with
escnn (PyTorch) needs ``torch`` and ``escnn`` and lives in the repository
(``benchmarks/bench_escnn.py``): :func:`run` includes it when this package
runs from a repository checkout, and says why it is skipped otherwise.

>>> PARTS
('bench_gconv', 'bench_syre', 'bench_escnn', 'bench_approx', 'bench_cpu_conv', 'bench_steerable')
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Sequence

from symjax.bench import approx, cpu_conv, gconv, steerable, syre
from symjax.bench.script import script_main

__all__ = ["PARTS", "CORE", "run", "checkout_escnn", "script_main"]

PARTS = ("bench_gconv", "bench_syre", "bench_escnn", "bench_approx", "bench_cpu_conv", "bench_steerable")
CORE = {"bench_gconv": gconv, "bench_syre": syre, "bench_approx": approx, "bench_cpu_conv": cpu_conv,
        "bench_steerable": steerable}
ESCNN_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_escnn.py"


def checkout_escnn(path: Path = ESCNN_SCRIPT) -> ModuleType | str:
    """The escnn comparison of the repository checkout this package runs from, or why it is not there.

    Args:
      path: the script (default: ``benchmarks/bench_escnn.py`` next to the ``symjax`` package).

    Returns:
      the loaded module (its ``run(quick)`` skips with a message when torch or
      escnn do not import), or a sentence saying that the checkout is missing.

    >>> checkout_escnn(Path("nowhere/bench_escnn.py"))
    'needs the repository checkout (nowhere/bench_escnn.py not found)'
    """
    if not path.is_file():
        return f"needs the repository checkout ({path} not found)"
    spec = importlib.util.spec_from_file_location("symjax_benchmarks_bench_escnn", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the Flax modules defined there are dataclasses
    spec.loader.exec_module(module)
    return module


def run(quick: bool = False, dtype: str = "float32", tiny: bool = False,
        escnn: ModuleType | str | None = None, parts: Sequence[str] = PARTS) -> dict:
    """Run the parts, print their tables; returns ``{part: results}``.

    Args:
      quick: fewer sizes and repetitions in every part.
      dtype: ``"float32"`` or ``"bfloat16"``, for the G-conv part (the others run in float32).
      tiny: a seconds-long smoke run of each part (not a measurement); the escnn part is skipped.
      escnn: the escnn comparison (a module with ``run(quick)``), a reason to skip it,
        or ``None`` for :func:`checkout_escnn`.
      parts: which of :data:`PARTS` to run (default: all), in that order.

    Returns:
      ``{part: results}``; a skipped part holds ``{"skipped": reason}``.

    >>> run(parts=["bench_escnn"], escnn="not wanted here")
    <BLANKLINE>
    === bench_escnn ===
    escnn comparison skipped: not wanted here
    {'bench_escnn': {'skipped': 'not wanted here'}}
    """
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"parts must be names from {PARTS}, got unknown {unknown}")
    if escnn is None and "bench_escnn" in parts:
        escnn = checkout_escnn()
    if tiny and not isinstance(escnn, str):
        escnn = "it has no tiny mode"
    results = {}
    for name in (name for name in PARTS if name in parts):
        print(f"\n=== {name} ===", flush=True)
        if name == "bench_escnn" and isinstance(escnn, str):
            print(f"escnn comparison skipped: {escnn}")
            results[name] = {"skipped": escnn}
            continue
        if name == "bench_escnn":
            part, kwargs = escnn, {}
        else:
            part, kwargs = CORE[name], {"tiny": tiny, **({"dtype": dtype} if name == "bench_gconv" else {})}
        results[name] = part.run(quick=quick, **kwargs)
        part.print_results(results[name])
    return results
