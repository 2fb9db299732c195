"""functional.restrict: group feature maps on G viewed on a subgroup H, exactly (issue 14 item 1)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax import actions, groups
from symjax import functional as F

D4, C4, C8, D8 = groups.dihedral(4), groups.cyclic(4), groups.cyclic(8), groups.dihedral(8)
CASES = [
    (D4, D4.subgroup([1]), "D4>C4"),
    (D4, D4.subgroup([4]), "D4>flip"),
    (D4, D4.subgroup([2, 4]), "D4>D2"),
    (C4, C4.subgroup([2]), "C4>C2"),
    (D4, D4.subgroup([0]), "D4>trivial"),
    (C8, C8.subgroup([2]), "C8>C4"),
    (D8, D8.subgroup([2]), "D8>C4"),
    (groups.symmetric(3), groups.symmetric(3).subgroup([1]), "S3>C2"),
]


@pytest.mark.parametrize("G,H", [c[:2] for c in CASES], ids=[c[2] for c in CASES])
def test_restriction_commutes_with_the_action_of_the_subgroup(G, H):
    f = jnp.asarray(np.random.default_rng(0).standard_normal((2, 5, 5, 3, G.order)), jnp.float32)
    out = F.restrict(f, G, H)
    cosets = G.order // H.group.order
    assert out.shape == (2, 5, 5, 3 * cosets, H.group.order)
    planar = G.matrices is not None and G.matrices.shape[-2:] == (2, 2)
    act = actions.on_group_image if planar else regular_action
    restricted = jax.jit(lambda f: F.restrict(f, G, H))
    for k, h in enumerate(H.elements.tolist()):
        np.testing.assert_array_equal(restricted(act(G, h, f)), act(H.group, k, out))


def regular_action(G, g, f):
    """The left regular action on the group axis alone (for groups that do not act on the plane)."""
    return jnp.take(f, jnp.asarray(G.cayley_table[G.inverse_table[g]]), axis=-1)


def test_values_are_a_permutation_and_the_trivial_subgroup_gives_plain_channels():
    f = jnp.arange(2 * 8.0).reshape(1, 1, 1, 2, 8)
    out = F.restrict(f, D4, D4.subgroup([1]))
    assert sorted(np.asarray(out).ravel().tolist()) == sorted(np.asarray(f).ravel().tolist())
    plain = F.restrict(f, D4, D4.subgroup([0]))
    np.testing.assert_array_equal(plain[..., 0], f.reshape(1, 1, 1, 16))  # channel c * |G| + g


def test_chains_compose():
    """D4 -> C4 -> C2 equals D4 -> C2 up to a fixed permutation of channels, and stays equivariant."""
    f = jnp.asarray(np.random.default_rng(1).standard_normal((1, 3, 3, 2, 8)), jnp.float32)
    C4_in_D4 = D4.subgroup([1])
    C2_in_C4 = C4_in_D4.group.subgroup([2])
    two_steps = F.restrict(F.restrict(f, D4, C4_in_D4), C4_in_D4.group, C2_in_C4)
    one_step = F.restrict(f, D4, D4.subgroup([2]))
    assert two_steps.shape == one_step.shape == (1, 3, 3, 8, 2)
    assert sorted(np.asarray(two_steps).ravel().tolist()) == sorted(np.asarray(one_step).ravel().tolist())


def test_bad_input_names_the_argument():
    f = jnp.ones((1, 3, 3, 2, 8))
    with pytest.raises(TypeError, match="H to be a Subgroup"):
        F.restrict(f, D4, [0, 1])
    with pytest.raises(TypeError, match="G to be a symjax.groups.FiniteGroup"):
        F.restrict(f, "D4", D4.subgroup([1]))
    with pytest.raises(ValueError, match=r"\|G\| = 8"):
        F.restrict(jnp.ones((1, 3, 3, 2, 4)), D4, D4.subgroup([1]))
    with pytest.raises(ValueError, match="subgroup of G"):
        F.restrict(jnp.ones((1, 3, 3, 2, 4)), C4, D4.subgroup([1, 4]))
