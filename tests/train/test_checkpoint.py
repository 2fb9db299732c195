"""Checkpoints: exact round trips, fit's checkpoint_dir, bitwise resume, interrupted saves."""

import os

import jax
import numpy as np
import optax
import pytest

from symjax.train import Trainer


def _assert_equal(a, b):
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(leaves_a, leaves_b):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _shuffled(x, y, batches_of):
    def batches(epoch):
        order = np.random.default_rng(epoch).permutation(len(x))
        return batches_of(x[order], y[order], 32)

    return batches


@pytest.mark.parametrize("kind", ["linen", "nnx"])
def test_resume_is_bitwise_exact(digits, kit, kind, request, tmp_path):
    # linen: batch norm, dropout (rng), adam; nnx: batch norm, dropout, adam and anisotropic syre
    trainer = request.getfixturevalue("linen_trainer" if kind == "linen" else "nnx_syre_trainer")
    x, y = digits[0][:128], digits[1][:128]
    batches = _shuffled(x, y, kit.batches_of)
    start = trainer.init(jax.random.key(0), batches(0)[0])
    straight, _ = trainer.fit(start, batches, epochs=3, progress=False)
    _, first = trainer.fit(start, batches, epochs=2, checkpoint_dir=tmp_path, progress=False)

    like = trainer.init(jax.random.key(123), batches(0)[0])  # any state of the right structure
    resumed = trainer.restore(tmp_path, like=like)
    assert int(resumed.epoch) == 2 and int(resumed.step) == first[-1]["step"]
    resumed, _ = trainer.fit(resumed, batches, epochs=1, progress=False)
    _assert_equal(resumed, straight)


def test_save_restore_round_trip_keeps_every_leaf(digits, nnx_syre_trainer, tmp_path):
    x, y = digits
    trainer = nnx_syre_trainer
    batch = {"x": x[:32], "y": y[:32]}
    state = trainer.init(jax.random.key(0), batch)
    assert state.removal.decay is not None
    state, _ = trainer.step(state, batch)
    path = trainer.save(state, tmp_path / "run")
    assert os.path.isdir(os.path.join(path, "1"))
    restored = trainer.restore(tmp_path / "run", like=trainer.init(jax.random.key(9), batch))
    _assert_equal(restored, state)
    assert restored.params["linear1"]["kernel"][...].sharding == trainer.state_sharding


def test_fit_keeps_latest_checkpoints_and_restore_takes_the_latest(digits, kit, linen_trainer, tmp_path):
    x, y = digits
    trainer = linen_trainer
    batches = kit.batches_of(x[:64], y[:64], 32)
    state = trainer.init(jax.random.key(0), batches[0])
    final, _ = trainer.fit(state, batches, epochs=3, checkpoint_dir=tmp_path, progress=False, max_to_keep=2)
    assert sorted(int(name) for name in os.listdir(tmp_path) if name.isdigit()) == [4, 6]
    _assert_equal(trainer.restore(tmp_path, like=state), final)


def test_interrupted_save_never_becomes_latest(digits, linen_trainer, tmp_path):
    x, y = digits
    trainer = linen_trainer
    batch = {"x": x[:32], "y": y[:32]}
    state = trainer.init(jax.random.key(0), batch)
    state, _ = trainer.step(state, batch)
    trainer.save(state, tmp_path)
    later, _ = trainer.step(state, batch)
    # what a save of step 2 killed half-way leaves behind: Orbax's temporary directory
    partial = tmp_path / "2.orbax-checkpoint-tmp-1712345678"
    (partial / "arrays").mkdir(parents=True)
    (partial / "arrays" / "garbage").write_bytes(b"\0" * 16)
    _assert_equal(trainer.restore(tmp_path, like=state), state)
    trainer.save(later, tmp_path)
    _assert_equal(trainer.restore(tmp_path, like=state), later)


def test_restore_errors(digits, kit, linen_trainer, tmp_path):
    x, y = digits
    trainer = linen_trainer
    batch = {"x": x[:32], "y": y[:32]}
    state = trainer.init(jax.random.key(0), batch)
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        trainer.restore(tmp_path / "empty", like=state)
    trainer.save(state, tmp_path)
    other = Trainer(kit.LinenMLP(hidden=8), optax.sgd(0.1), kit.cross_entropy)
    with pytest.raises(ValueError, match="like must have the structure"):
        other.restore(tmp_path, like=other.init(jax.random.key(0), batch))
    with pytest.raises(TypeError, match="like must be a TrainState"):
        trainer.restore(tmp_path, like=state.params)
    with pytest.raises(TypeError, match="directory must be a path"):
        trainer.save(state, 3)
