"""examples/rotated_digits_c8.py in its --quick mode: runs, tests every 45-degree rotation, draws the plot."""
import pathlib
import runpy

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "rotated_digits_c8.py"


@pytest.mark.filterwarnings("ignore::symjax.EquivarianceWarning")  # C8 is approximate by design
def test_rotated_digits_c8_quick(tmp_path, capsys):
    plot = tmp_path / "accuracy.png"
    # the levers of benchmarks/README.md on (input blur, blur before the pool, disc): they run, C4 stays exact
    argv = ["--quick", "--plot", str(plot), "--pool", "mean", "--blur", "1", "--antialias", "1", "--disc"]
    result = runpy.run_path(str(EXAMPLE))["main"](argv)
    accuracy = result["accuracy"]
    assert list(accuracy) == [45.0 * k for k in range(8)] and result["round_trip"] == {}
    # multiples of 90 degrees move the pixels exactly and the network is exactly C4-invariant: equal accuracies
    assert len({accuracy[a] for a in (0.0, 90.0, 180.0, 270.0)}) == 1
    assert result["worst"] == min(accuracy.values()) and all(0 <= a <= 1 for a in accuracy.values())
    assert plot.stat().st_size > 0
    assert "worst angle" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore::symjax.EquivarianceWarning")
def test_profile_option_sets_the_basis_and_is_refused_with_free_kernels(capsys):
    """``--profile escnn`` gives the layers escnn's radial profile (the net stays exactly C4-invariant);
    with free kernels (C4 by default, ``--basis bilinear``) it is a usage error naming the option."""
    main = runpy.run_path(str(EXAMPLE))["main"]
    escnn = main(["--quick", "--profile", "escnn"])["accuracy"]
    assert len({escnn[a] for a in (0.0, 90.0, 180.0, 270.0)}) == 1
    assert "(escnn profile)" in capsys.readouterr().out
    for argv in (["--quick", "--group", "C4", "--profile", "escnn"], ["--quick", "--basis", "bilinear", "--profile", "outer0"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "--profile" in capsys.readouterr().err
