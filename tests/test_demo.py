"""Smoke test of ``symjax demo`` (the "smoke" preset: seconds, not minutes) and its invariants."""

import dataclasses
import io

import pytest
from rich.console import Console

from symjax._demo import PRESETS, run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_out")
    buffer = io.StringIO()
    result = run_demo(out=str(out), preset="smoke", console=Console(file=buffer, width=120))
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
    assert result["settings"] == dataclasses.asdict(PRESETS["smoke"])
    low_rank = result["low_rank"]
    assert len(low_rank["with syre"]["singular_values_w1"]) == 10
    mlp = result["mlp_rank"]
    assert len(mlp["with syre"]["rank"]) == len(mlp["weight_decay"]) == len(PRESETS["smoke"].weight_decays)


def test_bad_arguments():
    with pytest.raises(ValueError, match="preset must be one of"):
        run_demo(preset="huge")
    with pytest.raises(TypeError, match="out must be a folder path"):
        run_demo(out=3, preset="smoke")
