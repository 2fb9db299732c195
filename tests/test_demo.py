"""``symjax demo --quick``: its invariants, and the numbers docs/training.md quotes from it.

The quick demo runs once in the suite (the module fixture below, about a
minute on 2 cores); every test here reads that one run.
"""

import dataclasses
import io
import pathlib
import re

import jax
import numpy as np
import pytest
from rich.console import Console

from symjax import actions, symmetry
from symjax._demo import C4, GCNN, PRESETS, RestrictedGCNN, run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_out")
    buffer = io.StringIO()
    result = run_demo(out=str(out), preset="quick", console=Console(file=buffer, width=120))
    return result, buffer.getvalue()


def test_writes_plots_and_says_where(demo):
    result, text = demo
    assert len(result["plots"]) == 2
    for path in result["plots"]:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert path.split("/")[-1] in text
    assert "G-CNN" in text and "identical neurons" in text and "low rank" in text


def test_gcnn_is_invariant_and_cnn_is_not(demo):
    result, _ = demo
    gcnn, cnn = result["digits"]["p4 G-CNN"], result["digits"]["CNN"]
    assert abs(gcnn["params"] - cnn["params"]) < 0.05 * cnn["params"]
    assert gcnn["invariance_error"] < 1e-5
    assert cnn["invariance_error"] > 1e-3
    assert max(gcnn["accuracy"]) - min(gcnn["accuracy"]) <= 2 / 592  # float rounding may flip a tie
    assert len(gcnn["accuracy"]) == 4 and gcnn["train_time"] > 0


def test_identical_neurons_stay_exactly_identical_without_syre(demo):
    result, _ = demo
    plain, syre = result["identical_neurons"]["without syre"], result["identical_neurons"]["with syre"]
    assert set(plain["distinct_neurons"]) == {1} and set(plain["neuron_spread"]) == {0.0}
    assert syre["neuron_spread"][-1] > 0


def test_returns_the_key_numbers(demo):
    result, _ = demo
    assert set(result) == {"settings", "digits", "identical_neurons", "low_rank", "mlp_rank", "plots",
                           "part_times", "time"}
    assert result["settings"] == dataclasses.asdict(PRESETS["quick"])
    low_rank = result["low_rank"]
    assert len(low_rank["with syre"]["singular_values_w1"]) == 10
    mlp = result["mlp_rank"]
    assert len(mlp["with syre"]["rank"]) == len(mlp["weight_decay"]) == len(PRESETS["quick"].weight_decays)


DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "training.md"


def _cells(label: str) -> list[str]:
    """The cells of the docs/training.md table row whose first cell starts with ``label``."""
    row = re.search(rf"^\| ({re.escape(label)}.*)\|$", DOC.read_text(), re.M)
    assert row, f"docs/training.md has no demo table row {label!r}"
    return [c.strip() for c in row.group(1).split("|")]


def test_docs_quote_this_run(demo):
    """docs/training.md's quick-demo tables against this run (seed 0).

    Tolerances. Part 1 trains 120 Adam steps at a constant rate: a new CPU or
    XLA version moves it as a new seed does. Over seeds 0-2 (this project's
    2-core x86 CPU) the G-CNN's accuracy was 0.880, 0.954, 0.948 (0.79-0.95
    over seeds 0-3 with a cosine schedule, tried for comparison); the CNN's
    upright accuracy 0.932-0.975, rotated 0.068-0.193; the CNN's invariance
    error 1.6-1.8 (1.4 before the changes of issue 11). So:
    G-CNN within 0.1, CNN upright within 0.05, rotated within 0.1, invariance
    error within 40% (the G-CNN's: float rounding, below 1e-5). Part 2
    converges to fixed points (a plateau, a decayed singular value, a rank):
    float rounding does not move them (the quick numbers were unchanged by
    every change of XLA options and trainer code of issue 11), so ranks and
    neuron counts are exact, losses and singular values within a factor 2
    (a singular value decayed to rounding: below 1e-6), accuracies within
    0.02 and NC1 within 0.05.
    """
    result, _ = demo
    digits = result["digits"]
    for label, name, tol in (("p4 G-CNN", "p4 G-CNN", (0.1,) * 4), ("CNN (", "CNN", (0.05, 0.1, 0.1, 0.1))):
        label_cell, *cells = _cells(label)
        params = re.search(r"\(([\d,]+) params\)", label_cell).group(1)
        assert int(params.replace(",", "")) == digits[name]["params"]
        for doc, measured, t in zip(map(float, cells[:4]), digits[name]["accuracy"], tol):
            assert abs(doc - measured) <= t, (name, cells, digits[name]["accuracy"])
        error, measured = float(cells[4]), digits[name]["invariance_error"]
        assert (measured < 1e-5) if error < 1e-5 else abs(error - measured) <= 0.4 * error, (name, cells, measured)

    def pair(label):
        return [[float(v) for v in cell.split(" / ")] for cell in _cells(label)[1:]]

    def close(doc, measured, factor=2.0):
        return doc / factor <= measured <= doc * factor

    def decayed_or_close(doc, measured):
        """A singular value decayed to float32 rounding of the largest (about 1): below 1e-6 its value is
        rounding noise that moves with the CPU (1e-8 quoted; 4.0e-9 measured on an AMD EPYC), so both below."""
        return (doc < 1e-6 and measured < 1e-6) or close(doc, measured)

    neurons = result["identical_neurons"]
    for (loss, count), run in zip(pair("1. identical neurons"), ("without syre", "with syre")):
        assert close(loss, neurons[run]["loss"][-1]) and count == neurons[run]["distinct_neurons"][-1]
    low_rank = result["low_rank"]
    for (rank, smallest), run in zip(pair("2. low rank"), ("without syre", "with syre")):
        smallest_measured = min(low_rank[run]["singular_values_w1"])
        assert rank == low_rank[run]["rank_w1"][-1] and decayed_or_close(smallest, smallest_measured)
    mlp = result["mlp_rank"]
    at = mlp["weight_decay"].index(0.1)
    for (rank, accuracy, nc1), run in zip(pair("3. tanh MLP, weight decay 0.1"), ("without syre", "with syre")):
        assert rank == mlp[run]["rank"][at]
        assert abs(accuracy - mlp[run]["test_accuracy"][at]) <= 0.02 and abs(nc1 - mlp[run]["nc1"][at]) <= 0.05


def test_bad_arguments():
    with pytest.raises(ValueError, match="preset must be one of"):
        run_demo(preset="huge")
    with pytest.raises(TypeError, match="out must be a folder path"):
        run_demo(out=3, preset="smoke")


def test_full_demo_adds_the_g_cnn_restricted_to_the_trivial_group():
    """The full demo's digits part also trains ``p4 -> trivial`` (issue 14: controlled symmetry breaking): the
    G-CNN's layers restricted to the trivial group before a plain last convolution, so not C4-invariant."""
    assert PRESETS["full"].restricted_gcnn and not PRESETS["quick"].restricted_gcnn
    x = np.random.default_rng(0).normal(size=(2, 9, 9, 1)).astype(np.float32)
    errors = {}
    for name, model in (("gcnn", GCNN(2)), ("restricted", RestrictedGCNN(2))):
        variables = model.init(jax.random.key(0), x)
        errors[name] = float(symmetry.equivariance_error(lambda v: model.apply(variables, v), C4, x,
                                                         actions.on_image, None))
    assert errors["gcnn"] < 1e-5 and errors["restricted"] > 1e-3, errors
