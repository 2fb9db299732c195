"""The command line of one benchmark part: ``[--quick] [--tiny] [--json FILE]``, then run, print, save.

``python -m symjax.bench.syre --quick`` and the repository's
``benchmarks/bench_syre.py --quick`` both end here.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

__all__ = ["script_main"]


def script_main(run: Callable[..., dict], print_results: Callable[[dict], None], doc: str, quick_help: str,
                argv: list[str] | None = None) -> dict:
    """Parse ``argv``, call ``run(quick=..., tiny=...)``, print the results, write them as JSON if asked.

    Args:
      run: the part's ``run``; returns a JSON-ready dict.
      print_results: prints that dict as a table.
      doc: the part's module docstring (its first line describes the command).
      quick_help: what ``--quick`` shortens.
      argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
      the results of ``run``.

    >>> script_main(lambda quick, tiny: {"tiny": tiny}, print, "A part.", "fewer reps", ["--tiny"])
    {'tiny': True}
    {'tiny': True}
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long smoke run (not a measurement)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the results to this file")
    args = parser.parse_args(argv)
    results = run(quick=args.quick, tiny=args.tiny)
    print_results(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results
