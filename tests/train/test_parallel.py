"""Data parallelism on 4 CPU devices (a subprocess with forced host devices): equal to 1 device."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from flax import nnx
    from jax.sharding import Mesh
    from sklearn.datasets import load_digits
    from symjax import symmetry
    from symjax.train import Trainer

    assert len(jax.devices()) == 4, jax.devices()


    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool = False):
            x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(nn.relu(nn.Dense(32)(x)))
            return nn.Dense(10)(nn.Dropout(0.1, deterministic=not train)(x))


    def loss_fn(logits, batch):
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
        return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"])}


    data = load_digits()
    x, y = (data.data[:128] / 16.0).astype(np.float32), data.target[:128].astype(np.int32)
    batches = [{"x": x[i:i + 32], "y": y[i:i + 32]} for i in range(0, 128, 32)]
    syre = symmetry.Syre(1e-2, jax.random.key(3))
    runs = {}
    for name, mesh in [("four", None), ("one", Mesh(np.asarray(jax.devices()[:1]), ("data",)))]:
        trainer = Trainer(MLP(), optax.sgd(0.1, momentum=0.9), loss_fn, symmetry_removal=syre, mesh=mesh)
        state = trainer.init(jax.random.key(0), batches[0])
        state, history = trainer.fit(state, batches, epochs=2, progress=False)
        runs[name] = (trainer, state, history)

    trainer, state, history = runs["four"]
    _, state1, history1 = runs["one"]
    sharded, _ = trainer.shard(batches[0])
    pairs = zip(jax.tree.leaves((state.params, state.model_state)), jax.tree.leaves((state1.params, state1.model_state)))
    diffs = [float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in pairs]
    try:
        trainer.step(state, {"x": x[:10], "y": y[:10]})
        uneven = None
    except ValueError as err:
        uneven = str(err)
    # uneven evaluation batches (10 and 3 rows on 4 devices): padded, the loss sees only the real rows
    logits = trainer.predict(state, x[:16])
    expected = {k: float(v) for k, v in zip(["loss", "accuracy"], jax.tree.leaves(loss_fn(logits[:13], {"y": y[:13]})))}
    padded_eval = trainer.evaluate(state, [{"x": x[:10], "y": y[:10]}, {"x": x[10:13], "y": y[10:13]}])
    predict_diff = float(np.max(np.abs(np.asarray(trainer.predict(state, x[:10])) - np.asarray(logits[:10]))))
    _, fit_uneven = trainer.fit(state, batches[:1], epochs=1, eval_batches=[{"x": x[:10], "y": y[:10]}], progress=False)
    nnx_trainer = Trainer(nnx.Linear(64, 10, rngs=nnx.Rngs(0)), optax.sgd(0.1), loss_fn)
    nnx_state = nnx_trainer.init(jax.random.key(0), batches[0])
    nnx_state, nnx_metrics = nnx_trainer.step(nnx_state, batches[0])
    print(json.dumps({
        "devices": trainer.mesh.shape["data"],
        "shard_shapes": sorted({tuple(s.data.shape) for s in sharded["x"].addressable_shards}),
        "param_devices": len(state.params["Dense_0"]["kernel"].sharding.device_set),
        "max_diff": max(diffs),
        "loss": [h["loss"] for h in history], "loss1": [h["loss"] for h in history1],
        "accuracy": history[-1]["accuracy"], "accuracy1": history1[-1]["accuracy"],
        "uneven": uneven,
        "padded_eval": padded_eval, "expected_eval": expected, "predict_diff": predict_diff,
        "fit_eval_loss": fit_uneven[0]["eval_loss"],
        "nnx_skipped": int(nnx_metrics["skipped"]),
    }))
    """
)


@pytest.fixture(scope="module")
def four_devices():
    # the caller's XLA flags (make test's optimisation level) plus 4 host devices
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4".strip()
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_batch_is_sharded_and_params_replicated(four_devices):
    assert four_devices["devices"] == 4
    assert four_devices["shard_shapes"] == [[8, 64]]
    assert four_devices["param_devices"] == 4


def test_four_devices_equal_one(four_devices):
    # batch statistics, dropout masks and the loss mean are global: only float rounding differs
    # (SGD, not Adam, which turns rounding noise in near-zero gradients into full-size steps)
    assert four_devices["max_diff"] < 1e-5
    assert four_devices["loss"] == pytest.approx(four_devices["loss1"], rel=1e-5)
    assert four_devices["accuracy"] == pytest.approx(four_devices["accuracy1"], abs=1e-6)
    assert four_devices["loss"][1] < four_devices["loss"][0]


def test_uneven_batch_raises_naming_size_and_devices(four_devices):
    assert four_devices["uneven"] is not None
    assert "batch size 10" in four_devices["uneven"] and "4 devices" in four_devices["uneven"]


def test_nnx_model_on_four_devices(four_devices):
    assert four_devices["nnx_skipped"] == 0


def test_uneven_evaluation_batches_are_padded_and_weighted_by_real_examples(four_devices):
    # evaluate([10 rows, 3 rows]) equals the loss over the 13 real rows: padding never reaches loss_fn
    assert four_devices["padded_eval"]["loss"] == pytest.approx(four_devices["expected_eval"]["loss"], rel=1e-5)
    assert four_devices["padded_eval"]["accuracy"] == pytest.approx(four_devices["expected_eval"]["accuracy"])
    assert four_devices["predict_diff"] < 1e-5
    assert np.isfinite(four_devices["fit_eval_loss"])
