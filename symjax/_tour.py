"""A short tour of symjax's groups and actions (the first part of ``symjax demo``)."""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from rich.console import Console
from rich.table import Table

from symjax import actions, groups

_SHADES = " .:-=+*#%@"


def _ascii(img: np.ndarray) -> list[str]:
    lo, hi = img.min(), img.max()
    levels = np.round((img - lo) / (hi - lo + 1e-12) * (len(_SHADES) - 1)).astype(int)
    return ["".join(_SHADES[v] * 2 for v in row) for row in levels]


def _letter_f(size: int = 7) -> np.ndarray:
    """An asymmetric glyph (the letter F), so every element of D4 moves it differently."""
    img = np.zeros((size, size))
    img[1:size - 1, 2] = 1.0
    img[1, 2:size - 2] = 1.0
    img[size // 2, 2:size - 3] = 0.7
    return img


def run_tour(console: Console | None = None) -> dict:
    """Build the groups, verify their laws and print a table, then show a p4m orbit.

    Returns a dict ``{group name: order}`` of the groups it checked.

    >>> from rich.console import Console
    >>> import io
    >>> out = run_tour(Console(file=io.StringIO()))
    >>> out["D4"]
    8
    """
    console = console or Console()
    table = Table(title="Groups: laws verified (closure, identity, inverses, associativity)")
    for col in ("group", "order", "abelian", "matrices", "exact on pixels", "check (ms)"):
        table.add_column(col)
    checked = {}
    for G in (groups.trivial(), groups.cyclic(2), groups.cyclic(4), groups.cyclic(8), groups.dihedral(1),
              groups.dihedral(4), groups.klein_four(), groups.symmetric(3), groups.alternating(4),
              groups.direct_product(groups.cyclic(2), groups.dihedral(4))):
        start = time.perf_counter()
        groups.check_group(G)
        ms = (time.perf_counter() - start) * 1e3
        mats = "-" if G.matrices is None else "x".join(map(str, G.matrices.shape[1:]))
        exact = actions.is_exact_on_grid(G) if mats == "2x2" else None
        table.add_row(G.name, str(G.order), "yes" if G.is_abelian else "no", mats,
                      "-" if exact is None else ("yes" if exact else "approx"), f"{ms:.1f}")
        checked[G.name] = G.order
    console.print(table)

    D4 = groups.dihedral(4)
    orbit = np.asarray(actions.orbit(D4, jnp.asarray(_letter_f())[..., None])[..., 0])
    names = ["e", "r", "r2", "r3", "s", "rs", "r2s", "r3s"]
    console.print("\n[bold]The orbit of a glyph under p4m (D4 acting on the pixel grid)[/bold]")
    for half in (range(4), range(4, 8)):
        console.print("   ".join(f"{names[g]:<14}" for g in half))
        rows = [_ascii(orbit[g]) for g in half]
        for line in zip(*rows):
            console.print("   ".join(line), markup=False, highlight=False)
        console.print()
    x = jax.random.normal(jax.random.key(0), (9, 9, 1))
    composed = all(
        bool(jnp.array_equal(actions.on_image(D4, a, actions.on_image(D4, b, x)),
                             actions.on_image(D4, int(D4.compose(a, b)), x)))
        for a in range(8) for b in range(8))
    console.print(f"Action law T_a(T_b(x)) == T_ab(x) for all 64 pairs of D4: "
                  f"[bold]{'holds' if composed else 'FAILS'}[/bold]")
    return checked
