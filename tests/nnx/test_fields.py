"""NNX field layers: identical to Linen for identical parameters and batch statistics (equivariance: functional, nn)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx as fnnx

from symjax import groups, nn, nnx
from symjax import functional as F

C8 = groups.cyclic(8)
IRREPS = groups.Irrep(C8, 1) + groups.Irrep(C8, 3) + groups.Trivial(C8) + groups.Irrep(C8, 4)
GATES = 4 * groups.Trivial(C8) + IRREPS
REGULAR = 2 * groups.Regular(C8) + groups.Quotient(C8, [0, 4])


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def test_nnx_equals_linen_for_identical_parameters():
    rngs = fnnx.Rngs(0)
    pairs = [  # (NNX layer, Linen layer, input rep)
        (nnx.NormNonLinearity(IRREPS, "n_softplus", rngs=rngs), nn.NormNonLinearity(IRREPS, "n_softplus"), IRREPS),
        (nnx.GatedNonLinearity(GATES, rngs=rngs), nn.GatedNonLinearity(GATES), GATES),
        (nnx.InnerBatchNorm(REGULAR, rngs=rngs), nn.InnerBatchNorm(REGULAR), REGULAR),
        (nnx.NormBatchNorm(IRREPS, rngs=rngs), nn.NormBatchNorm(IRREPS), IRREPS),
    ]
    params = [{name: normal(i, p.shape) for name, p in fnnx.state(mod, fnnx.Param).items()}
              for i, (mod, _, _) in enumerate(pairs)]
    for mod, p in zip(pairs, params):
        for name, value in p.items():
            getattr(mod[0], name)[...] = value
    xs = [normal(10 + i, (2, 5, 5, rep.dim)) + 0.5 for i, (_, _, rep) in enumerate(pairs)]
    stats = [fnnx.state(mod, fnnx.BatchStat) for mod, _, _ in pairs]
    batch_stats = [{name: s[...] for name, s in st.items()} for st in stats]

    @jax.jit
    def linen(xs):  # training mode: normalised with the batch statistics, running averages updated
        outs = []
        for (_, lin, _), p, st, x in zip(pairs, params, batch_stats, xs):
            if st:
                outs.append(lin.apply({"params": p, "batch_stats": st}, x, use_running_average=False,
                                      mutable=["batch_stats"]))
            else:
                outs.append((lin.apply({"params": p}, x), {}))
        return outs
    expected = linen(xs)
    got = fnnx.jit(lambda mods, xs: [m(x) for m, x in zip(mods, xs)])([m for m, _, _ in pairs], xs)
    for (mod, _, _), y, (ref, updates) in zip(pairs, got, expected):
        assert jnp.allclose(y, ref, atol=1e-6)
        for name, value in updates.get("batch_stats", {}).items():
            assert jnp.allclose(getattr(mod, name)[...], value)
    assert pairs[3][0].mean.shape == (1,) and pairs[1][0].out_rep == IRREPS


def test_nnx_field_layers_check_their_arguments_at_construction():
    with pytest.raises(ValueError, match="pointwise_nonlinearity expects every field of rep"):
        nnx.PointwiseNonLinearity(IRREPS)
    with pytest.raises(ValueError, match="positive int, got None"):
        nnx.FourierPointwise(F.fourier_field(groups.SO(2), 1))
    with pytest.raises(ValueError, match="'max', 'mean' or 'sum'"):
        nnx.FieldPool(REGULAR, "min")
    with pytest.raises(ValueError, match="GatedNonLinearity expects every gate to be a trivial field; field 0"):
        nnx.GatedNonLinearity(IRREPS, rngs=fnnx.Rngs(0))
