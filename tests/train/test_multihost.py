"""Two processes over gloo on 127.0.0.1 (2 CPU devices each) train like one process with 4 devices.

Each process passes its local half of every batch. The test launches the two
processes exactly as a user would (``jax.distributed.initialize`` with a
coordinator on a free local port, ``jax_cpu_collectives_implementation =
"gloo"``), plus one reference process with 4 devices, and compares: the
parameters and batch statistics after ``fit`` (with checkpoints) and one more
``step`` from the restored state, ``evaluate`` on an uneven last batch, and
``predict``. Every subprocess is bounded by a timeout and killed on failure.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

WORKER = textwrap.dedent(
    """
    import json, os, sys
    processes, process_id, port, out_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    import jax
    if processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=processes,
                                   process_id=process_id)
    assert len(jax.devices()) == 4, jax.devices()
    import flax.linen as nn
    import jax.numpy as jnp
    import numpy as np
    import optax
    from symjax.train import Trainer


    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x, training: bool = False):
            x = nn.BatchNorm(use_running_average=not training, momentum=0.9)(nn.relu(nn.Dense(16)(x)))
            return nn.Dense(3)(nn.Dropout(0.2, deterministic=not training)(x))


    def loss_fn(logits, batch):
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
        return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"])}


    rng = np.random.default_rng(0)
    x = rng.standard_normal((71, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32) + (x[:, 2] > 1).astype(np.int32)
    rows = lambda a, b: {"x": x[a:b], "y": y[a:b]}
    # global batches of 16 rows; process p holds rows [8p, 8p + 8) of each

    def local(a, b):
        half = (b - a) // 2
        return rows(a + half * process_id, a + half * (process_id + 1)) if processes > 1 else rows(a, b)


    train = [local(0, 16), local(16, 32), local(32, 48)]
    # an uneven last batch of 7: 5 rows on process 0, 2 on process 1
    uneven = (rows(48, 53) if process_id == 0 else rows(53, 55)) if processes > 1 else rows(48, 55)
    predict_x = (x[55:58] if process_id == 0 else x[58:62]) if processes > 1 else x[55:62]

    trainer = Trainer(MLP(), optax.sgd(0.1, momentum=0.9), loss_fn)
    state0 = trainer.init(jax.random.key(0), train[0])
    state, history = trainer.fit(state0, train, epochs=2, eval_batches=[uneven], progress=False,
                                 checkpoint_dir=os.path.join(out_dir, "fit"))
    restored = trainer.restore(os.path.join(out_dir, "fit"), like=state0)
    trainer.save(restored, os.path.join(out_dir, "save"))
    again = trainer.restore(os.path.join(out_dir, "save"), like=state0)
    final, metrics = trainer.step(again, train[0])
    evaluation = trainer.evaluate(final, [train[1], uneven])
    outputs = trainer.predict(final, predict_x)
    leaves = lambda s: [np.asarray(leaf).tolist() for leaf in jax.tree.leaves((s.params, s.model_state))]
    result = {
        "process_count": jax.process_count(),
        "step": int(final.step),
        "restored_equal": all(np.array_equal(a, b) for a, b in zip(leaves(state), leaves(again))),
        "params": leaves(final),
        "history": [{k: v for k, v in h.items() if k != "time"} for h in history],
        "evaluate": evaluation,
        "predict": np.asarray(outputs).tolist(),
    }
    with open(os.path.join(out_dir, f"result_{processes}_{process_id}.json"), "w") as f:
        json.dump(result, f)
    """
)

TIMEOUT = 240
"""Seconds for the three processes together (about 30 s of CPU time on an idle 2-core machine)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(processes: int, process_id: int, port: int, out_dir, devices: int) -> subprocess.Popen:
    # the caller's XLA flags (make test's optimisation level) plus the host devices
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}".strip()
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
    command = [sys.executable, "-c", WORKER, str(processes), str(process_id), str(port), str(out_dir)]
    log = open(out_dir / f"log_{processes}_{process_id}.txt", "w")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)


def _wait_all(procs: list[subprocess.Popen]) -> None:
    """Wait for every process until ``TIMEOUT``; kill them all as soon as one fails or time is up."""
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            codes = [proc.poll() for proc in procs]
            if all(code is not None for code in codes) or any(code not in (None, 0) for code in codes):
                return
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The results of the two gloo processes and of the 4-device reference process."""
    multi, single = tmp_path_factory.mktemp("multihost"), tmp_path_factory.mktemp("single")
    port = _free_port()
    procs = [_launch(2, i, port, multi, devices=2) for i in range(2)]
    procs.append(_launch(1, 0, 0, single, devices=4))
    _wait_all(procs)
    logs = [multi / "log_2_0.txt", multi / "log_2_1.txt", single / "log_1_0.txt"]
    # a process that failed by itself first, then those killed after it (exit -9)
    for proc, log in sorted(zip(procs, logs), key=lambda pair: pair[0].returncode < 0):
        assert proc.returncode == 0, f"{log.name} (exit {proc.returncode}):\n{log.read_text()[-4000:]}"
    load = lambda path: json.loads(path.read_text())
    return [load(multi / f"result_2_{i}.json") for i in range(2)], load(single / "result_1_0.json")


def test_two_processes_train_like_one_with_four_devices(runs):
    (first, second), reference = runs
    assert first["process_count"] == second["process_count"] == 2 and reference["process_count"] == 1
    assert first["step"] == second["step"] == reference["step"] == 7
    for a, b, c in zip(first["params"], second["params"], reference["params"]):
        np.testing.assert_array_equal(a, b)  # the replicas agree bitwise
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)  # one process, 4 devices: float rounding
    for h, h_ref in zip(first["history"], reference["history"]):
        assert h == pytest.approx(h_ref, rel=1e-5, abs=1e-6)


def test_checkpoints_across_processes_restore_exactly(runs):
    (first, second), reference = runs
    assert first["restored_equal"] and second["restored_equal"] and reference["restored_equal"]


def test_evaluate_and_predict_across_processes(runs):
    (first, second), reference = runs
    assert first["evaluate"] == second["evaluate"]
    assert first["evaluate"] == pytest.approx(reference["evaluate"], rel=1e-5)
    # each process gets the outputs of its own examples (3 and 4 rows)
    np.testing.assert_allclose(first["predict"] + second["predict"], reference["predict"], rtol=1e-5, atol=1e-6)
