"""Shared fixtures for the trainer tests: small real data (scikit-learn digits) and small models."""

from types import SimpleNamespace

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from sklearn.datasets import load_digits


@pytest.fixture(scope="session")
def digits():
    """400 scikit-learn digits as ``(x (n, 64) in [0, 1], y (n,))``, float32 / int32."""
    data = load_digits()
    x = (data.data[:400] / 16.0).astype(np.float32)
    y = data.target[:400].astype(np.int32)
    return x, y


def batches_of(x, y, size):
    return [{"x": x[i:i + size], "y": y[i:i + size]} for i in range(0, len(x) - size + 1, size)]


def cross_entropy(logits, batch):
    one_hot = jnp.eye(logits.shape[-1])[batch["y"]]
    loss = -jnp.mean(jnp.sum(one_hot * jnp.log(jnp.clip(nn.softmax(logits), 1e-12)), axis=-1))
    accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["y"])
    return loss, {"accuracy": accuracy}


class LinenMLP(nn.Module):
    hidden: int = 32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.relu(nn.Dense(self.hidden)(x))
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.Dropout(0.1, deterministic=not train)(x)
        return nn.Dense(10)(x)


class NNXMLP(nnx.Module):
    def __init__(self, hidden: int = 32, *, rngs: nnx.Rngs):
        self.linear1 = nnx.Linear(64, hidden, rngs=rngs)
        self.norm = nnx.BatchNorm(hidden, momentum=0.9, rngs=rngs)
        self.dropout = nnx.Dropout(0.1, rngs=rngs)
        self.linear2 = nnx.Linear(hidden, 10, rngs=rngs)

    def __call__(self, x):
        return self.linear2(self.dropout(self.norm(nnx.relu(self.linear1(x)))))


@pytest.fixture(scope="session")
def kit():
    """The helpers above, for test modules (conftest is not importable under --import-mode=importlib)."""
    return SimpleNamespace(
        LinenMLP=LinenMLP, NNXMLP=NNXMLP, batches_of=batches_of, cross_entropy=cross_entropy
    )


@pytest.fixture(scope="session")
def linen_trainer():
    """One compiled Linen trainer (BatchNorm, dropout, adam) shared by the tests that only read it."""
    from symjax.train import Trainer

    return Trainer(LinenMLP(), optax.adam(1e-2), cross_entropy)


@pytest.fixture(scope="session")
def nnx_trainer():
    """One compiled NNX trainer (BatchNorm, dropout, adam) shared by the tests that only read it."""
    from symjax.train import Trainer

    return Trainer(NNXMLP(rngs=nnx.Rngs(0)), optax.adam(1e-2), cross_entropy)


@pytest.fixture(scope="session")
def nnx_syre_trainer():
    """One compiled NNX trainer with anisotropic symmetry removal, shared by read-only tests."""
    from symjax import symmetry
    from symjax.train import Trainer

    syre = symmetry.Syre(1e-2, jax.random.key(5), anisotropy=0.01)
    return Trainer(NNXMLP(rngs=nnx.Rngs(0)), optax.adam(1e-2), cross_entropy, symmetry_removal=syre)
