"""Smoke tests of examples/: each runs in-process with --quick."""

import pathlib
import runpy

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _main(name):
    return runpy.run_path(str(EXAMPLES / name))["main"]


def test_rotated_digits(tmp_path, capsys):
    result = _main("rotated_digits.py")(["--quick", "--checkpoint-dir", str(tmp_path)])
    accuracy = list(result["accuracy"].values())
    assert len(accuracy) == 4 and max(accuracy) - min(accuracy) <= 2 / 592
    assert result["invariance_error"] < 1e-5 and result["export_gap"] < 1e-4
    assert any(p.name.isdigit() for p in tmp_path.iterdir())
    assert "invariance error" in capsys.readouterr().out


def test_syre_collapse(capsys):
    result = _main("syre_collapse.py")(["--quick"])
    assert set(result) == {"decay", "syre"}
    assert {"rank/layers_2/kernel", "neurons/layers_2/kernel", "eval_accuracy"} <= set(result["syre"][-1])
    assert "syre: test accuracy" in capsys.readouterr().out


def test_nnx_quickstart(capsys):
    result = _main("nnx_quickstart.py")(["--quick"])
    assert result["resume_exact"] is True
    assert max(result["accuracy"]) - min(result["accuracy"]) <= 2 / 592
    assert "bitwise equal" in capsys.readouterr().out


def test_plasticity_syre_keeps_the_representation(capsys):
    """20 tasks (a few seconds): weight decay's hidden representation loses rank and units faster than syre's."""
    result = _main("plasticity.py")(["--tasks", "20"])
    assert set(result) == {"decay", "syre"} and all(len(h) == 20 for h in result.values())

    def last(name, key):
        return sum(r[key] for r in result[name][-4:]) / 4

    assert last("syre", "rank") > last("decay", "rank") + 5
    assert last("syre", "dead") < last("decay", "dead")
    assert abs(last("syre", "accuracy") - last("decay", "accuracy")) < 0.05
    assert "syre: test accuracy" in capsys.readouterr().out


def test_plasticity_quick():
    result = _main("plasticity.py")(["--quick"])
    assert {"accuracy", "rank", "dead"} == set(result["syre"][-1])


@pytest.mark.parametrize("name", ["rotated_digits.py", "syre_collapse.py", "nnx_quickstart.py", "plasticity.py"])
def test_examples_document_how_to_run(name):
    text = (EXAMPLES / name).read_text()
    assert f"python examples/{name} --quick" in text
