"""Groups as data: finite groups as integer Cayley tables, Lie groups as matrices.

A finite group element is an integer ``0 .. order-1`` with ``0`` the identity;
``G.compose(a, b)`` and ``G.inverse(a)`` accept Python ints, NumPy ints and
traced ``jnp`` integers. Lie groups ``SO(n)``, ``O(n)``, ``SU(n)`` offer
``exp``/``log`` coordinates, Haar sampling and membership tests.

>>> from symjax import groups
>>> D4 = groups.dihedral(4)
>>> groups.check_group(D4)
>>> D4.quotient(D4.subgroup([1])).order
2
"""
from symjax.groups._cube import full_octahedral, octahedral
from symjax.groups._finite import (
    FiniteGroup,
    GroupAxiomError,
    Subgroup,
    alternating,
    check_group,
    cyclic,
    dihedral,
    direct_product,
    from_cayley_table,
    generate,
    klein_four,
    symmetric,
    trivial,
)
from symjax.groups._irreps import (
    Decomposition,
    Irrep,
    Quotient,
    Restricted,
    decompose,
    fourier_decomposition,
    irreps,
    restrict,
)
from symjax.groups._lie import O, SO, SU, LieGroup
from symjax.groups._reps import (
    DirectSum,
    Dual,
    Permutation,
    Regular,
    Rep,
    Standard,
    TensorProduct,
    Trivial,
    equivariant_basis,
    invariant_basis,
)

__all__ = [
    "FiniteGroup", "Subgroup", "GroupAxiomError", "check_group", "trivial", "cyclic", "dihedral",
    "symmetric", "alternating", "klein_four", "direct_product", "from_cayley_table", "generate",
    "octahedral", "full_octahedral",
    "LieGroup", "SO", "O", "SU",
    "Rep", "Trivial", "Standard", "Regular", "Permutation", "DirectSum", "TensorProduct", "Dual",
    "equivariant_basis", "invariant_basis",
    "Irrep", "irreps", "Quotient", "Restricted", "restrict", "Decomposition", "decompose", "fourier_decomposition",
]
